"""The compare page and its library: runs side by side on one cohort."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from testkit.apptest import COMPARE_VIEWS, chart_list as _charts, compare_page, no_failures as _ok, open_view
from lemof import open_bundle
from testkit.paths import shipped_runs


def _page(**params) -> AppTest:
    return compare_page(**params)


def test_two_runs(default_cohort):
    a, b = shipped_runs("synthetic", "lemof")[:2]
    at = _page(runs=f"{a.run_id},{b.run_id}")
    _ok(at)
    assert at.title[0].value == "Compare runs"
    assert len(_charts(at)) == 1, "a new visitor's page draws the metrics; every other view is one click away"
    charts = list(_charts(at))
    for view in COMPARE_VIEWS:
        open_view(at, view)
        _ok(at)
        charts += _charts(at)
    titles = " | ".join(c["figure"]["layout"]["title"]["text"] for c in charts)
    for part in ("Test metrics", "Level importance profiles", "Interval calibration", "Per-stay predictions", "This stay"):
        assert part in titles
    assert all(c["alt"] for c in charts), "every chart has a text alternative"
    assert at.query_params["runs"] in (f"{a.run_id},{b.run_id}", [f"{a.run_id},{b.run_id}"])


def test_three_runs_with_a_baseline_among_them(default_cohort):
    lemof_runs = shipped_runs("synthetic", "lemof")[:2]
    baseline = shipped_runs("synthetic", "baseline")[0]
    ids = [r.run_id for r in lemof_runs] + [baseline.run_id]
    at = _page(runs=",".join(ids))
    _ok(at)
    infos = " ".join(i.value for i in open_view(at, COMPARE_VIEWS[0]).info)
    assert f"No level importance for {baseline.run_id}" in infos
    infos = " ".join(i.value for i in open_view(at, COMPARE_VIEWS[3]).info)
    assert "is a baseline: no level SHAP" in infos
    metrics = [c for c in _charts(at) if c["figure"]["layout"]["title"]["text"].startswith("Test metrics")][0]
    names = {t["name"] for t in metrics["figure"]["data"] if t.get("name")}
    assert set(ids) <= names, "all three runs are in the metrics chart"


def test_one_run_asks_for_another(default_cohort):
    a = shipped_runs("synthetic")[0]
    at = _page(runs=a.run_id)
    _ok(at)
    assert any("Pick at least two runs" in i.value for i in at.info)
    assert not _charts(at)


def test_a_run_of_another_cohort_is_not_offered(default_cohort, physionet_cohort):
    a, b = shipped_runs("synthetic")[:2]
    other = shipped_runs("physionet2012")[0]
    at = _page(runs=f"{a.run_id},{other.run_id},{b.run_id}")
    _ok(at)
    warnings = " ".join(w.value for w in at.warning)
    assert repr(other.run_id) in warnings and "not available for Synthetic" in warnings
    assert other.run_id not in at.multiselect[0].options


def test_deep_link_reproduces_the_stay(default_cohort):
    a, b = shipped_runs("synthetic", "lemof")[:2]
    stays = open_bundle(default_cohort).stays
    sid = int(stays.loc[stays["split"] == "test", "stay_id"].iloc[7])
    at = _page(runs=f"{a.run_id},{b.run_id}", stay=str(sid))
    _ok(at)  # a link naming a stay opens the view that shows it
    assert [s for s in at.selectbox if s.label.startswith("Test stay")][0].value == sid
    stay_chart = [c for c in _charts(at) if c["figure"]["layout"]["title"]["text"].startswith("This stay")][0]
    observed = float(stays.set_index("stay_id").loc[sid, "los_days"])
    assert f"Observed {observed:.1f} days" in stay_chart["alt"]


def test_deep_link_with_unencoded_plus(default_cohort):
    a, b = shipped_runs("synthetic", "lemof")[:2]
    at = _page(runs=f"{a.run_id},{b.run_id}".replace("+", " "))
    _ok(at)
    assert not at.warning, [w.value for w in at.warning]
    assert at.multiselect[0].value == [a.run_id, b.run_id]
