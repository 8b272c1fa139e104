"""AppTest of the Retrain page: validation, a quick job to completion, made active; cancel;
a second job refused; a failing job reported while the active model stays."""

from __future__ import annotations

import json
import time

import pytest
from streamlit.testing.v1 import AppTest

from testkit.paths import REPO
from testkit.cohorts import copy_bundle
from lemof.training.jobs import list_jobs


@pytest.fixture()
def app_cache(tmp_path, monkeypatch, tiny_cohort):
    """A private cache whose cohorts folder holds the tiny cohort (and the built-ins as links)."""
    import os

    cache = tmp_path / "cache"
    (cache / "cohorts").mkdir(parents=True)
    (cache / "cohorts" / "tiny").symlink_to(tiny_cohort)
    shared = os.environ["LEMOF_CACHE_DIR"]
    for built in ("synthetic-n4000-seed0-v1",):
        if (p := __import__("pathlib").Path(shared) / "cohorts" / built).exists():
            (cache / "cohorts" / built).symlink_to(p)
    monkeypatch.setenv("LEMOF_CACHE_DIR", str(cache))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    return cache


def _page(cache, cohort="tiny") -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=180)
    at.query_params["cohort"] = f"dir:{cache / 'cohorts' / cohort}"
    at.run()
    at.switch_page("pages/retrain.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _fill(at: AppTest, name: str, preset: str = "quick", head: bool = True, **numbers) -> None:
    at.button_group(key="train_preset").set_value(preset).run()
    at.text_input[0].set_value(name)
    at.checkbox(key="train_tabular_head").set_value(head)
    for label, value in numbers.items():
        [n for n in at.number_input if n.label == label][0].set_value(value)
    [b for b in at.button if b.label == "Train"][0].click().run()


def _until(at: AppTest, status: str, timeout: float = 150) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        at.run()
        if any(f"— {status}" in m.value for m in at.markdown):
            return
        time.sleep(0.5)
    raise AssertionError(f"no job reached {status!r}: " + " | ".join(m.value for m in at.markdown))


def test_invalid_fields_are_refused_with_a_message(app_cache):
    at = _page(app_cache)
    _fill(at, "../escape")
    assert any("Not started" in e.value and "may only use letters" in e.value for e in at.error)
    _fill(at, "fine-name", **{"Learning rate": 0.0})
    assert any("Not started" in e.value and "lr must be positive" in e.value for e in at.error)
    assert not (app_cache / "runs" / "fine-name").exists()


def test_a_quick_job_finishes_and_becomes_the_active_model(app_cache):
    at = _page(app_cache)
    before = at.sidebar.success[0].value
    _fill(at, "my-quick-run", head=False)  # the head's search would add seconds; its switch is checked in the next test
    assert any("Started job **my-quick-run**" in s.value for s in at.success)
    _fill(at, "another-run")  # a second job while the first runs is refused
    assert any("is still running" in e.value for e in at.error)
    _until(at, "done")
    assert any("Finished: test MAE" in s.value for s in at.success)
    assert "my-quick-run" not in before
    # the tabular head switched off: the run has none
    assert json.loads((app_cache / "runs" / "my-quick-run" / "config.json").read_text())["train"]["tabular_head"] is False
    assert not (app_cache / "runs" / "my-quick-run" / "tabular_head.lgb.txt").exists()
    [b for b in at.button if b.label == "Make it the active model"][0].click().run()
    assert not at.exception
    assert "my-quick-run" in at.sidebar.success[0].value
    assert [s for s in at.sidebar.selectbox if s.label.startswith("Model")][0].value == "my-quick-run"
    entries = _audit(app_cache)
    started = [e for e in entries if e["event"] == "job.start"]
    assert [e["name"] for e in started] == ["my-quick-run"], "the refused second job is not recorded as started"
    assert started[0]["job"].endswith("-my-quick-run") and started[0]["cohort"].startswith("dir:") and started[0]["user"].startswith("local:")
    (activated,) = [e for e in entries if e["event"] == "run.activate"]
    assert activated["run"] == "my-quick-run" and activated["job"] == started[0]["job"]
    assert any(e["event"] == "page.view" and e["page"] == "retrain" for e in entries)


def _audit(cache) -> list[dict]:
    """The audit entries the app wrote (its default log, under the cache directory)."""
    return [json.loads(line) for line in (cache / "audit" / "audit.jsonl").read_text().splitlines()]


def test_cancel_and_a_failing_job_leave_the_active_model_alone(app_cache, tiny_cohort):
    bad = copy_bundle(tiny_cohort, app_cache / "cohorts" / "broken")
    (bad / "ehr_values.npy").write_bytes(b"garbage")
    at = _page(app_cache)
    active = at.sidebar.success[0].value
    assert at.checkbox(key="train_tabular_head").value is True, "the tabular head is on by default (adopted on validation)"
    _fill(at, "long-run", preset="thorough", **{"Epochs, stage 1": 300, "Epochs, stage 3": 300})
    (job,) = [j for j in list_jobs(app_cache / "runs") if j.name == "long-run"]
    assert job.spec["options"]["tabular_head"] is True and job.spec["options"]["fusion"] == "lemof"
    deadline = time.time() + 120
    while not [b for b in at.button if b.label == "Cancel"] and time.time() < deadline:
        time.sleep(0.5)
        at.run()
    cancel = [b for b in at.button if b.label == "Cancel"]
    assert cancel, "no Cancel button within 120 s of starting the job: " + " | ".join(m.value for m in at.markdown)
    cancel[0].click().run()
    _until(at, "cancelled")
    assert any("No run was written" in e.value for e in at.error)
    cancelled = [e for e in _audit(app_cache) if e["event"] == "job.cancel"]
    assert len(cancelled) == 1 and cancelled[0]["name"] == "long-run"
    assert not (app_cache / "runs" / "long-run").exists()
    # a job on a corrupt cohort fails and says why
    at.selectbox(key="train_cohort").set_value(f"dir:{bad}").run()
    _fill(at, "on-broken-data")
    _until(at, "failed")
    assert any("not a readable .npy array" in e.value for e in at.error)
    assert at.sidebar.success[0].value == active, "the active model is unchanged"
