"""The compare page and its library: runs side by side on one cohort."""

from __future__ import annotations


import pytest
from streamlit.testing.v1 import AppTest

from apptest import chart_list as _charts, compare_page, no_failures as _ok
from conftest import REPO
from lemof import list_runs, load_run, open_bundle
from lemof.evaluation.compare import compare_runs


def _runs(source: str, kind: str | None = None) -> list:
    entries = [e for e in list_runs(source=source)[0] if e.shipped]
    if kind is not None:
        entries = [e for e in entries if (e.fusion == "lemof") == (kind == "lemof")]
    return entries


def _page(**params) -> AppTest:
    return compare_page(**params)





def test_comparison_aligns_runs_and_reproduces_their_metrics(default_cohort):
    bundle = open_bundle(default_cohort)
    runs = [load_run(e.path) for e in _runs("synthetic")[:3]]
    comp = compare_runs(runs, bundle)
    assert comp.ids == [r.run_id for r in runs] and not comp.unavailable
    metrics = comp.metrics(B=200).set_index(["run", "metric"])
    for run in runs:
        recorded = run.metrics.test.model
        assert metrics.loc[(run.run_id, "mae_days"), "estimate"] == pytest.approx(recorded.mae_days, abs=1e-6)
        lo, hi = metrics.loc[(run.run_id, "mae_days"), ["lo", "hi"]]
        assert lo < recorded.mae_days < hi
    calibration = comp.calibration()
    at90 = calibration[calibration["nominal"] == 0.9].set_index("run")["observed"]
    for run in runs:  # recomputing the interval at 90 % gives the stored interval's coverage
        assert at90[run.run_id] == pytest.approx(run.metrics.test.model.interval_coverage, abs=0.004)
    top = comp.disagreements(runs[0].run_id, runs[1].run_id, 5)
    assert list(top["difference (days)"]) == sorted(top["difference (days)"], reverse=True)


def test_two_runs(default_cohort):
    a, b = _runs("synthetic", "lemof")[:2]
    at = _page(runs=f"{a.run_id},{b.run_id}")
    _ok(at)
    assert at.title[0].value == "Compare runs"
    charts = _charts(at)
    titles = " | ".join(c["figure"]["layout"]["title"]["text"] for c in charts)
    for part in ("Test metrics", "Level importance profiles", "Interval calibration", "Per-stay predictions", "This stay"):
        assert part in titles
    assert all(c["alt"] for c in charts), "every chart has a text alternative"
    assert at.query_params["runs"] in (f"{a.run_id},{b.run_id}", [f"{a.run_id},{b.run_id}"])


def test_three_runs_with_a_baseline_among_them(default_cohort):
    lemof_runs = _runs("synthetic", "lemof")[:2]
    baseline = _runs("synthetic", "baseline")[0]
    ids = [r.run_id for r in lemof_runs] + [baseline.run_id]
    at = _page(runs=",".join(ids))
    _ok(at)
    infos = " ".join(i.value for i in at.info)
    assert f"No level importance for {baseline.run_id}" in infos
    assert "is a baseline: no level SHAP" in infos
    metrics = [c for c in _charts(at) if c["figure"]["layout"]["title"]["text"].startswith("Test metrics")][0]
    names = {t["name"] for t in metrics["figure"]["data"] if t.get("name")}
    assert set(ids) <= names, "all three runs are in the metrics chart"


def test_one_run_asks_for_another(default_cohort):
    a = _runs("synthetic")[0]
    at = _page(runs=a.run_id)
    _ok(at)
    assert any("Pick at least two runs" in i.value for i in at.info)
    assert not _charts(at)


def test_a_run_of_another_cohort_is_not_offered(default_cohort, physionet_cohort):
    a, b = _runs("synthetic")[:2]
    other = _runs("physionet2012")[0]
    at = _page(runs=f"{a.run_id},{other.run_id},{b.run_id}")
    _ok(at)
    warnings = " ".join(w.value for w in at.warning)
    assert repr(other.run_id) in warnings and "not available for Synthetic" in warnings
    assert other.run_id not in at.multiselect[0].options


def test_deep_link_reproduces_the_stay(default_cohort):
    a, b = _runs("synthetic", "lemof")[:2]
    stays = open_bundle(default_cohort).stays
    sid = int(stays.loc[stays["split"] == "test", "stay_id"].iloc[7])
    at = _page(runs=f"{a.run_id},{b.run_id}", stay=str(sid))
    _ok(at)
    assert [s for s in at.selectbox if s.label.startswith("Test stay")][0].value == sid
    stay_chart = [c for c in _charts(at) if c["figure"]["layout"]["title"]["text"].startswith("This stay")][0]
    observed = float(stays.set_index("stay_id").loc[sid, "los_days"])
    assert f"Observed {observed:.1f} days" in stay_chart["alt"]


def test_a_plus_typed_into_a_link_still_finds_the_run():
    """'+' in a hand-typed URL arrives as a space; the run is still found, and the links the app
    writes encode it."""
    from types import SimpleNamespace

    from lemof.runs.catalog import run_id_from_link
    from ui.context import case_link

    ids = ["synthetic-gru+resnet1d", "synthetic-gbm"]
    assert run_id_from_link("synthetic-gru resnet1d", ids) == "synthetic-gru+resnet1d"
    assert run_id_from_link("synthetic-gbm", ids) == "synthetic-gbm"
    assert run_id_from_link("nonsense", ids) == "nonsense"
    ctx = SimpleNamespace(cohort=SimpleNamespace(key="synthetic"))
    assert case_link(ctx, "synthetic-gru+resnet1d", 30000001) == "./?cohort=synthetic&run=synthetic-gru%2Bresnet1d&stay=30000001"


def test_deep_link_with_unencoded_plus(default_cohort):
    a, b = _runs("synthetic", "lemof")[:2]
    at = _page(runs=f"{a.run_id},{b.run_id}".replace("+", " "))
    _ok(at)
    assert not at.warning, [w.value for w in at.warning]
    assert at.multiselect[0].value == [a.run_id, b.run_id]
