"""UI state: links applied once and then the user's choice sticks, one way to activate a run
(whose failure is shown), the compare page's default runs, and no import cycle under ``ui/``."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from testkit.apptest import compare_page, no_failures
from testkit.paths import REPO
from lemof import list_runs, open_bundle
from lemof.runs.catalog import preferred_order


def test_a_page_run_without_the_router_is_routed(default_cohort, monkeypatch):
    """Streamlit's legacy mode (a fresh server, first request for a page file): the page still
    runs after the sidebar, through the app's entry point."""
    from streamlit.runtime.pages_manager import PagesManager

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=180).run()
    monkeypatch.setattr(PagesManager, "uses_pages_directory", True)
    at.switch_page("pages/model_card.py").run()
    no_failures(at)
    assert PagesManager.uses_pages_directory is False, "st.navigation ran and ended the legacy mode"
    assert at.title[0].value == "Model and cohort"
    assert [s for s in at.sidebar.selectbox if s.label.startswith("Model")], "the sidebar was drawn"


# --- the compare page -----------------------------------------------------------------------

def _compare(**params) -> AppTest:
    return compare_page(**params)


def _runs_box(at: AppTest):
    return [m for m in at.multiselect if m.label.startswith("Runs to compare")][0]


def _url(at: AppTest, param: str) -> str:
    value = at.query_params[param]
    return value[0] if isinstance(value, list) else value


def _lemof_configurations(source: str, cohort_name: str) -> list[str]:
    """One LeMoF run per encoder pair, in the order the app offers runs."""
    seen, out = set(), []
    for e in preferred_order(list_runs(source=source)[0], cohort_name):
        if e.fusion == "lemof" and e.encoders not in seen:
            seen.add(e.encoders)
            out.append(e.run_id)
    return out


def test_compare_opens_on_the_lemof_encoder_configurations_and_adds_the_baselines(default_cohort):
    at = _compare()
    no_failures(at)
    chosen = _runs_box(at).value
    entries = {e.run_id: e for e in list_runs(source="synthetic")[0]}
    assert chosen == _lemof_configurations("synthetic", "synthetic-n4000-seed0")
    assert {entries[r].encoders for r in chosen} == {"gru+resnet1d", "transformer+transformer", "tcn+tcn"}
    assert all(entries[r].fusion == "lemof" for r in chosen)
    [b for b in at.button if b.label.startswith("Add the baselines")][0].click().run()
    no_failures(at)
    after = _runs_box(at).value
    assert after[:3] == chosen, "the LeMoF configurations stay, in their order"
    assert {entries[r].fusion for r in after[3:]} == {"late", "xattn_last", "gbm"}
    assert _url(at, "runs") == ",".join(after)


def test_compare_on_physionet_opens_on_its_two_lemof_configurations(default_cohort, physionet_cohort):
    at = _compare(cohort="physionet2012")
    no_failures(at)
    entries = {e.run_id: e for e in list_runs(source="physionet2012")[0]}
    chosen = _runs_box(at).value
    assert {entries[r].encoders for r in chosen} == {"gru+resnet1d", "tcn+tcn"}
    assert all(entries[r].fusion == "lemof" for r in chosen)


def test_a_runs_link_is_applied_once_then_the_users_choice_sticks(default_cohort):
    ids = _lemof_configurations("synthetic", "synthetic-n4000-seed0")
    at = _compare(runs=",".join(ids[:2]))
    assert _runs_box(at).value == ids[:2]
    _runs_box(at).set_value(ids[1:]).run()
    no_failures(at)
    assert _runs_box(at).value == ids[1:] and _url(at, "runs") == ",".join(ids[1:])
    at.run()  # a rerun (any other widget) keeps the user's choice, not the link's
    assert _runs_box(at).value == ids[1:]
    at.query_params["runs"] = f"{ids[2]},{ids[0]}"  # a new link is applied
    at.run()
    assert _runs_box(at).value == [ids[2], ids[0]]


def test_a_stay_link_on_compare_and_on_case_review(default_cohort):
    ids = _lemof_configurations("synthetic", "synthetic-n4000-seed0")
    stays = open_bundle(default_cohort).stays
    test = stays.loc[stays["split"] == "test", "stay_id"].astype(int).tolist()
    at = _compare(runs=",".join(ids[:2]), stay=str(test[3]))

    def stay_box(prefix: str):
        return [s for s in at.selectbox if s.label.startswith(prefix)][0]

    assert stay_box("Test stay").value == test[3]
    stay_box("Test stay").set_value(test[5]).run()  # the user's pick sticks and goes into the URL
    assert stay_box("Test stay").value == test[5] and _url(at, "stay") == str(test[5])
    at.run()
    assert stay_box("Test stay").value == test[5]
    # the compare page's "open in case review" link: the stay it names is applied there
    at.switch_page("pages/case_review.py")
    at.query_params.clear()
    at.query_params["stay"] = str(test[5])
    at.run()
    no_failures(at)
    assert stay_box("ICU stay").value == test[5]
    stay_box("ICU stay").set_value(test[6]).run()
    assert stay_box("ICU stay").value == test[6] and _url(at, "stay") == str(test[6])
    at.run()
    assert stay_box("ICU stay").value == test[6]


# --- activating a run from the Retrain page -------------------------------------------------

@pytest.fixture()
def private_cache(tmp_path, monkeypatch, default_cohort):
    """A private cache whose cohorts folder links the default cohort (no rebuild)."""
    cache = tmp_path / "cache"
    (cache / "cohorts").mkdir(parents=True)
    (cache / "cohorts" / default_cohort.name).symlink_to(default_cohort)
    monkeypatch.setenv("LEMOF_CACHE_DIR", str(cache))
    return cache


def _finished_job(cache: Path, name: str, cohort: Path, run_dir: Path) -> None:
    """A finished job as the Retrain page lists it (written by hand: no training)."""
    from lemof.training.jobs import JOBS

    dead = subprocess.Popen(["true"])
    dead.wait()  # a pid whose process is gone: the job is not running
    job_dir = cache / "runs" / JOBS / f"{time.strftime('%Y%m%d-%H%M%S')}-{name}"
    job_dir.mkdir(parents=True)
    spec = {"cohort": str(cohort), "name": name, "options": {"fusion": "lemof", "encoders": "tcn+tcn"}, "device": "cpu", "gpus": 1}
    (job_dir / "job.json").write_text(json.dumps({"job_id": job_dir.name, "name": name, "pid": dead.pid, "run_dir": str(run_dir), "started": time.time(), "spec": spec}))
    (job_dir / "progress.json").write_text(json.dumps({"status": "done", "test": {"mae_days": 1.0, "kappa_linear_10bucket": 0.5}}))


def _retrain_page() -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=180)
    at.run()
    at.switch_page("pages/retrain.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _model_box(at: AppTest):
    return [s for s in at.sidebar.selectbox if s.label.startswith("Model")][0]


def test_activating_a_run_of_an_unknown_cohort_shows_an_error(private_cache, tmp_path):
    run_dir = tmp_path / "elsewhere" / "orphan-run"
    shutil.copytree(REPO / "assets" / "models" / "synthetic-tcn+tcn", run_dir)
    _finished_job(private_cache, "orphan-run", tmp_path / "a-cohort-that-is-gone", run_dir)
    at = _retrain_page()
    active = _model_box(at).value
    [b for b in at.button if b.label == "Make it the active model"][0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    errors = " ".join(e.value for e in at.error)
    assert "orphan-run" in errors and "a-cohort-that-is-gone" in errors and "not one the app knows" in errors
    assert _model_box(at).value == active, "the active model is unchanged"
    at.run()  # the job panel polls: the message stays
    assert any("not one the app knows" in e.value for e in at.error)


def test_activating_a_finished_run_selects_it_in_the_sidebar(private_cache, default_cohort):
    run_dir = private_cache / "runs" / "copied-tcn"
    shutil.copytree(REPO / "assets" / "models" / "synthetic-tcn+tcn", run_dir)
    _finished_job(private_cache, "copied-tcn", private_cache / "cohorts" / default_cohort.name, run_dir)
    at = _retrain_page()
    assert _model_box(at).value != "copied-tcn"
    [b for b in at.button if b.label == "Make it the active model"][0].click().run()
    no_failures(at)
    assert _model_box(at).value == "copied-tcn" and "copied-tcn" in at.sidebar.success[0].value
    assert _url(at, "run") == "copied-tcn"
    at.switch_page("pages/case_review.py").run()
    no_failures(at)
    assert _model_box(at).value == "copied-tcn", "and it stays active on the other pages"


def test_a_new_runs_compare_link_opens_on_it_and_the_lemof_configurations():
    """The Retrain page's "Compare it with the other runs" link names the new run and its family's
    LeMoF encoder configurations (it named the new run alone, and Compare asked for a second one)."""
    from lemof import list_runs
    from ui.retrain import compare_with

    entries = {e.run_id: e for e in list_runs()[0]}
    runs = compare_with("synthetic-tcn+tcn")
    assert runs[0] == "synthetic-tcn+tcn" and len(runs) >= 3
    others = [entries[r] for r in runs[1:]]
    assert all(e.source == "synthetic" and e.fusion == "lemof" for e in others)
    assert len({e.encoders for e in others} | {"tcn+tcn"}) == len(runs), "one run per encoder pair"
    assert compare_with("not-a-run") == ["not-a-run"]
