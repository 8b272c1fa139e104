"""The test suite cleans up after itself."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile

from testkit.paths import REPO


def _fresh_conftest(name: str):
    """A new copy of tests/conftest.py, imported as a session would import it (reads the environment)."""
    spec = importlib.util.spec_from_file_location(name, REPO / "tests" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_private_test_cache_is_removed_at_the_end(tmp_path):
    # One nested session, collecting only (a second copy of this file, which runs nothing): it
    # shows that pytest calls the conftest's session-end hook, which removes the private cache.
    env = {k: v for k, v in os.environ.items() if k not in ("LEMOF_TEST_CACHE", "LEMOF_CACHE_DIR")}
    env["TMPDIR"] = str(tmp_path)  # where the inner session makes its private cache
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--collect-only", "tests/unit/test_housekeeping.py"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0 and " tests collected" in proc.stdout, proc.stdout + proc.stderr
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith("lemof-test-cache-")], "the private cache is removed"


def test_the_cache_is_private_unless_lemof_test_cache_names_one(tmp_path, monkeypatch):
    monkeypatch.setenv("LEMOF_CACHE_DIR", os.environ["LEMOF_CACHE_DIR"])  # the copies below set it; restored after
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.delenv("LEMOF_TEST_CACHE", raising=False)
    private = _fresh_conftest("conftest_private")
    made = [p for p in (tmp_path / "tmp").iterdir() if p.name.startswith("lemof-test-cache-")]
    assert [str(p) for p in made] == [private._CACHE] and os.environ["LEMOF_CACHE_DIR"] == private._CACHE, "a private cache under TMPDIR"
    (made[0] / "cohorts").mkdir()
    private.pytest_sessionfinish(None, 0)
    assert not made[0].exists(), "removed at the end, contents and all"

    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "marker").write_text("keep me")
    monkeypatch.setenv("LEMOF_TEST_CACHE", str(kept))
    named = _fresh_conftest("conftest_kept")
    assert named._CACHE == str(kept) and os.environ["LEMOF_CACHE_DIR"] == str(kept)
    named.pytest_sessionfinish(None, 0)
    assert (kept / "marker").exists(), "LEMOF_TEST_CACHE is kept"


def test_readme_set_up_commands_are_generic_and_ci_runs_the_second(pytestconfig):
    import re
    import tomllib

    readme = (REPO / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)\n```", readme, flags=re.S)
    app, tests = blocks[0], blocks[1]
    assert readme.index("```bash") < readme.index("\n## "), "the two set-up commands come first"
    assert app.endswith("streamlit run app.py") and tests.endswith(".venv/bin/python -m pytest")
    for command in (app, tests):
        assert "python3 -m venv .venv" in command and not re.search(r"python3\.\d", command), "no one minor Python version hard-coded"
        assert "download.pytorch.org" not in command, "the tested commands need no other index"
    ci = [line for line in (REPO / ".ci" / "run").read_text().splitlines() if line and not line.startswith(("#", "set ", "cd ", "export "))]
    assert ci == [tests], ".ci/run runs exactly the README's test command"
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == ">=3.11" and "Python 3.11 or newer" in readme
    assert "--index-url https://download.pytorch.org/whl/cpu" in readme, "how to get the CPU build of torch"


def test_every_test_has_a_timeout_and_polling_gives_up_before_it(pytestconfig):
    import inspect

    from tests.app import test_retrain_page
    from tests.unit import test_jobs

    limit = float(pytestconfig.getini("timeout") or 0)
    assert 0 < limit <= 600, "pytest-timeout is configured (pyproject.toml)"
    for wait in (test_jobs._wait, test_retrain_page._until):
        assert inspect.signature(wait).parameters["timeout"].default < limit, wait.__name__


def test_markers_say_what_a_test_costs(request, pytestconfig):
    """The quick tier the README names deselects every test that is slow or needs Chromium: the
    markers are registered and set by folder and fixture (tests/conftest.py)."""
    from tests.conftest import SLOW_FIXTURES

    assert 'python -m pytest -m "not slow and not browser"' in (REPO / "README.md").read_text()
    assert {m.split(":")[0] for m in pytestconfig.getini("markers")} >= {"slow", "browser"}
    for item in request.session.items:
        folder = item.path.relative_to(REPO / "tests").parts[0]
        marks = {m.name for m in item.iter_markers()}
        assert (folder == "browser") == ("browser" in marks), item.nodeid
        if folder == "app" or SLOW_FIXTURES & set(item.fixturenames):
            assert "slow" in marks, item.nodeid
