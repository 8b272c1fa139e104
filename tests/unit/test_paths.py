"""User-supplied names stay inside their folders: ``confined`` and ``safe_name`` (``lemof.paths``),
the Retrain page's run name and job ids, a bundle's declared family naming a recipe, a MIMIC
record path, and the URL's cohort, run and stay (looked up, never made into a path). Each bad
value is refused with one specific line (a ``LemofError``) and nothing is created anywhere.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from testkit.paths import REPO
from lemof.errors import LemofError, UnsafePathError
from lemof.paths import confined, safe_name
from lemof.training.jobs import JobError, JobSpec, cancel_job, check_name, job_status, start_job
from lemof.training.recipes import recipe_path

# (value, what the one-line error must say)
BAD_NAMES = [
    ("../escape", "dots only"),
    ("a/../../escape", "dots only"),
    ("/etc/passwd", "absolute path"),
    ("\\\\server\\share", "absolute path"),
    ("a\x00b", "NUL byte"),
    ("x" * 300, "at most 255"),
    ("a/" * 2100 + "a", "too long"),
    (".", "dots only"),
    ("..", "dots only"),
    ("...", "dots only"),
    ("a//b", "empty or dots only"),
    ("", "is empty"),
]


def _tree(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


@pytest.fixture
def world(tmp_path):
    """A root folder with one entry, a sibling outside it, and a link from inside to outside."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret.json").write_text("{}")
    (root / "out-link").symlink_to(outside)
    (root / "in-link").symlink_to(root / "sub")
    return root, outside


@pytest.mark.parametrize("name, says", BAD_NAMES)
def test_confined_refuses_names_that_leave_their_folder(world, name, says):
    root, outside = world
    before = _tree(root.parent)
    with pytest.raises(UnsafePathError) as info:
        confined(root, name, what="job id")
    message = str(info.value)
    assert isinstance(info.value, LemofError) and "\n" not in message and message.startswith("job id") and says in message, message
    assert _tree(root.parent) == before, "nothing is created"


def test_confined_follows_links_and_refuses_one_pointing_out(world):
    root, outside = world
    for name in ("out-link", "out-link/secret.json", "sub/../out-link"):
        with pytest.raises(UnsafePathError, match="leads outside|dots only"):
            confined(root, name)
    assert confined(root, "out-link/secret.json", check_links=False) == root / "out-link" / "secret.json", "an operator's data tree may link elsewhere"
    assert confined(root, "in-link/new.json") == root / "in-link" / "new.json", "a link that stays inside is fine"
    assert confined(root, "files/p10/p1000/s1/1") == root / "files/p10/p1000/s1/1"
    (root / "loop").symlink_to(root / "loop")
    with pytest.raises(UnsafePathError):
        confined(root, "loop/x")


@pytest.mark.parametrize("name", ["..", "...", "///", "\x00", "", "-.-"])
def test_safe_name_refuses_names_with_nothing_usable(name):
    with pytest.raises(UnsafePathError, match="no usable characters"):
        safe_name(name)
    assert safe_name("../../etc/passwd") == "etc-passwd" and safe_name("a\x00b") == "a-b" and len(safe_name("x" * 300)) == 80


@pytest.mark.parametrize("name, says", [
    ("../escape", "may only use"), ("/tmp/escape", "may only use"), ("a\x00b", "may only use"), ("x" * 300, "at most 80"),
    ("...", "no usable characters"), (".", "no usable characters"), ("a/b", "may only use"), ("", "no usable characters"),
])
def test_run_names_from_the_retrain_form_are_refused(tiny_cohort, tmp_path, name, says):
    root = tmp_path / "runs"
    with pytest.raises(JobError, match=says):
        check_name(name, root)
    with pytest.raises(JobError, match=says) as info:
        start_job(JobSpec(str(tiny_cohort), name, {}, "cpu"), root)
    assert "\n" not in str(info.value)
    assert _tree(tmp_path) == ["runs"], "nothing but the (empty) runs folder is created"


@pytest.mark.parametrize("job_id, says", [(n, s) for n, s in BAD_NAMES if n] + [("escape", "leads outside")])
def test_job_ids_that_leave_the_jobs_folder_are_refused(tmp_path, job_id, says):
    """``job_status`` and ``cancel_job`` (the Retrain page's status and Cancel button): a job id is
    a folder of ``<runs>/.jobs``. The outside folder holds a job.json naming a live process: a
    cancel that followed the id out would stop it."""
    root, outside = tmp_path / "runs", tmp_path / "outside" / "escape"
    (root / ".jobs").mkdir(parents=True)
    outside.mkdir(parents=True)
    (root / ".jobs" / "escape").symlink_to(outside)
    victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (outside / "job.json").write_text(f'{{"job_id": "x", "name": "x", "pid": {victim.pid}, "run_dir": "{outside}", "started": 0, "spec": {{}}}}')
        before = _tree(tmp_path)
        for call in (job_status, cancel_job):
            with pytest.raises(JobError, match=says) as info:
                call(job_id, root)
            assert "\n" not in str(info.value) and "job id" in str(info.value)
        assert victim.poll() is None, "the process named outside the jobs folder was not signalled"
        assert _tree(tmp_path) == before, "nothing is created or changed"
    finally:
        victim.kill()
        victim.wait()


def test_a_cohort_family_names_a_recipe_only_as_a_plain_file_name():
    from tests.fixtures.hostile_bundle import SOURCE

    assert recipe_path("physionet2012") is not None and recipe_path("synthetic") is None
    for family in ("../recipes/physionet2012", "../../README", "/etc/passwd", "physionet2012\x00", SOURCE, "..", ""):
        assert recipe_path(family) is None


def test_a_mimic_record_path_must_stay_inside_the_ecg_tree(tmp_path):
    from lemof.data.mimic import _read_ecg

    (tmp_path / "ecg").mkdir()
    for rel in ("../outside/40689238", "/etc/passwd", "files/../../x", "files/p1\x00/x"):
        with pytest.raises(UnsafePathError, match="record_list.csv path"):  # a ValueError: the builder keeps the stay without ECG and counts why
            _read_ecg(tmp_path / "ecg", rel)


def test_cli_out_that_names_no_directory_is_one_line(tiny_cohort, tmp_path):
    """``--out`` is the operator's choice (used as given), but one that names no directory is
    refused in one line, not a traceback."""
    proc = subprocess.run([sys.executable, "-m", "lemof", "train", "--data", str(tiny_cohort), "--out", f"{tmp_path}/..", "--fusion", "gbm"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and "no usable characters" in lines[0], proc.stderr
