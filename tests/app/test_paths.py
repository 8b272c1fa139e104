"""The URL (AppTest): ?cohort= ?run= ?runs= ?stay= are looked up among what is listed, never opened as paths; the path checks themselves are tested in tests/unit/test_paths.py."""

from __future__ import annotations

from testkit.apptest import no_failures
from testkit.hostile import shown
from testkit.paths import REPO


def _app(hostile_cohort, hostile_runs, monkeypatch, **params):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("LEMOF_COHORTS", str(hostile_cohort))
    monkeypatch.setenv("LEMOF_RUNS", str(hostile_runs))
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=180)
    at.session_state["cohort_select"] = f"dir:{hostile_cohort}"  # what the user had open
    for k, v in params.items():
        at.query_params[k] = v
    return at.run()


def test_a_cohort_link_to_an_unlisted_folder_opens_nothing(hostile_cohort, hostile_runs, tiny_cohort, monkeypatch):
    from tests.fixtures.hostile_bundle import COHORT_NAME

    for key in (f"dir:{tiny_cohort}", f"dir:{hostile_cohort}/../../..", "dir:/etc", "../../etc"):
        at = _app(hostile_cohort, hostile_runs, monkeypatch, cohort=key)
        no_failures(at)
        warnings = " ".join(w.value for w in at.warning)
        assert repr(key) in warnings and "not available here" in warnings
        assert COHORT_NAME in shown(at.sidebar.success[0].value) and "synthetic-n300-seed1" not in at.sidebar.success[0].value


def test_run_runs_and_stay_links_that_name_paths_are_refused(hostile_cohort, hostile_runs, monkeypatch):
    from tests.fixtures.hostile_bundle import LEMOF_RUN_ID

    at = _app(hostile_cohort, hostile_runs, monkeypatch, run="../../etc/passwd", stay="../../etc/passwd")
    no_failures(at)
    warnings = " ".join(w.value for w in at.warning)
    assert "model '../../etc/passwd'" in warnings and "not a number" in warnings
    assert LEMOF_RUN_ID in shown(at.sidebar.success[0].value), "a listed run is shown instead"
    at = _app(hostile_cohort, hostile_runs, monkeypatch, stay="1\x00")
    assert "not a number" in " ".join(w.value for w in at.warning)
    at = _app(hostile_cohort, hostile_runs, monkeypatch, page="compare", runs=f"../x,{hostile_runs},{LEMOF_RUN_ID}")
    no_failures(at)
    warnings = " ".join(w.value for w in at.warning)
    assert "'../x'" in warnings and repr(str(hostile_runs)) in warnings and "left out" in warnings
