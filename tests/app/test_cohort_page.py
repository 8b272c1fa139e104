"""The Cohort page (AppTest on the shipped runs) and the computations behind it (lemof.evaluation.cohort_view)."""

from __future__ import annotations

import dataclasses
from urllib.parse import quote

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from testkit.apptest import charts as _charts, no_failures as _no_failures
from testkit.paths import REPO, SHIPPED_PHYSIONET_RUN, SHIPPED_RUN
from lemof import RunError, load_run, open_bundle
from lemof.evaluation.cohort_view import RELIABILITY_CATEGORY, build_view
from lemof.evaluation.subgroups import AGE_BANDS

TIMEOUT = 120


def _cohort_page(switch: bool = False, **params) -> AppTest:
    """The app opened on the Cohort page: by switching to it after a first run (``switch``), or
    by a ``?page=cohort`` link (faster: the case review never runs)."""
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=TIMEOUT)
    for key, value in params.items():
        at.query_params[key] = value
    if switch:
        return at.run().switch_page("pages/cohort.py").run()
    at.query_params["page"] = "cohort"
    return at.run()


def _chart(at: AppTest, prefix: str) -> dict:
    return [c["figure"] for t, c in _charts(at).items() if t.startswith(prefix)][0]


def _array(value) -> np.ndarray:
    if isinstance(value, dict) and "bdata" in value:
        import base64

        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
    return np.asarray(value, dtype=float)


def _options(at: AppTest) -> list[str]:
    """The subgroup picker's values (its shown options end with the count: "… (123 stays)")."""
    return [o.rsplit(" (", 1)[0] for o in at.selectbox(key="cohort_group").options]


def _table(at: AppTest, column: str) -> pd.DataFrame:
    return [d.value for d in at.dataframe if column in d.value.columns][0]


def _test_stays(cohort) -> pd.DataFrame:
    stays = open_bundle(cohort).stays
    return stays[stays["split"] == "test"].set_index("stay_id")


def test_cohort_page_renders_every_section_with_alt_text(default_cohort):
    at = _cohort_page(switch=True)
    _no_failures(at)
    assert at.title[0].value == "Cohort"
    n_test = len(_test_stays(default_cohort))
    assert [m.value for m in at.metric if m.label == "Stays"] == [f"{n_test:,}"]
    charts = _charts(at)
    titles = " | ".join(charts)
    for part in ("Level importance across test stays", "LOS > 7 days: reliability", "Error by subgroup", "Head contributions across test stays"):
        assert part in titles
    assert all(c["alt"] for c in charts.values()), "every chart carries a text alternative"
    levels = _chart(at, "Level importance across")
    assert all(t["type"] in ("box", "scatter") for t in levels["data"]) and any("★" in str(x) for t in levels["data"] for x in (t.get("x") or []))
    assert all(len(t.get("x") or []) <= 8 for t in levels["data"]), "boxes from quantiles, not one point per stay"

    # the subgroup table: each category's counts add up to the test stays
    table = _table(at, "category")
    for category, part in table.groupby("category"):
        assert part["stays"].sum() == n_test, category
    assert {"Care unit", "Age band", "Sex", "Biosignal"} <= set(table["category"])
    units = _test_stays(default_cohort)["first_careunit"].value_counts()
    care = table[table["category"] == "Care unit"].set_index("subgroup")["stays"]
    assert care.to_dict() == units.to_dict()

    # the reliability diagram: bin counts add up, mean predicted probabilities are probabilities
    reliability = _chart(at, "LOS > 7 days: reliability")
    bars = [t for t in reliability["data"] if t["type"] == "bar"][0]
    assert _array(bars["y"]).sum() == n_test
    points = [t for t in reliability["data"] if t.get("name") == "this run"][0]
    assert ((_array(points["x"]) >= 0) & (_array(points["x"]) <= 1)).all()

    # the all-stays toggle
    at.toggle(key="cohort_all_stays").set_value(True).run()
    _no_failures(at)
    assert [m.value for m in at.metric if m.label == "Stays"] == [f"{len(open_bundle(default_cohort).stays):,}"]
    assert "Level importance across stays (all splits)" in " | ".join(_charts(at))


def test_subgroup_stay_list_links_to_case_review(default_cohort):
    at = _cohort_page()
    test = _test_stays(default_cohort)
    options = _options(at)
    assert any(o.startswith("Care unit: ") for o in options) and any(o.startswith(RELIABILITY_CATEGORY) for o in options)
    unit = test["first_careunit"].value_counts().index[0]
    at.selectbox(key="cohort_group").set_value(f"Care unit: {unit}").run()
    _no_failures(at)
    stays = _table(at, "open in case review")
    assert 0 < len(stays) <= 200
    assert set(test.loc[stays["stay"], "first_careunit"]) == {unit}, "only stays of that subgroup"
    assert list(stays["open in case review"]) == [f"./?cohort=synthetic&run={quote(SHIPPED_RUN.name)}&stay={s}" for s in stays["stay"]]  # "+" encoded
    err = stays["absolute error (days)"].to_numpy()
    assert (np.diff(err) <= 1e-9).all(), "largest error first"
    assert np.allclose(err, (stays["predicted (days)"] - stays["observed (days)"]).abs(), atol=0.011)
    assert (stays["P(LOS > 7 d)"].between(0, 1)).all()

    band = [o for o in options if o.startswith("Age band: ") and "<40" in o][0]
    at.selectbox(key="cohort_group").set_value(band).run()
    ages = test.loc[_table(at, "open in case review")["stay"], "age"]
    lo, hi = AGE_BANDS[0][0], AGE_BANDS[0][1]
    assert ((ages >= lo) & (ages < hi)).all()

    bin_option = [o for o in _options(at) if o.startswith(RELIABILITY_CATEGORY)][-1]
    at.selectbox(key="cohort_group").set_value(bin_option).run()
    _no_failures(at)
    low = float(bin_option.split(": ")[1].split("–")[0])
    p = _table(at, "open in case review")["P(LOS > 7 d)"]
    assert (p >= low - 0.005).all()


def test_physionet_cohort_renders(default_cohort, physionet_cohort):
    at = _cohort_page(cohort="physionet2012")
    _no_failures(at)
    assert SHIPPED_PHYSIONET_RUN.name in at.sidebar.success[0].value
    charts = _charts(at)
    assert len(charts) >= 4 and all(c["alt"] for c in charts.values())
    n_test = len(_test_stays(physionet_cohort))
    table = _table(at, "category")
    for _, part in table.groupby("category"):
        assert part["stays"].sum() == n_test
    assert "with Bedside" in set(table["subgroup"]) or "without Bedside" in set(table["subgroup"])


def test_a_run_that_is_not_lemof_gets_calibration_and_subgroups_only(default_cohort, monkeypatch):
    import ui.loaders

    real = ui.loaders.build_view
    monkeypatch.setattr(ui.loaders, "build_view", lambda run, bundle, split, sig: real(dataclasses.replace(run, fusion="late"), bundle, split, sig))
    st.cache_resource.clear()  # the views cached by ui.loaders were built without the patch
    try:
        at = _cohort_page()
        _no_failures(at)
        infos = " ".join(i.value for i in at.info)
        assert "Level importance is LeMoF's" in infos and "Head contributions are LeMoF's" in infos
        titles = " | ".join(_charts(at))
        assert "Error by subgroup" in titles and "LOS > 7 days: reliability" in titles and "Level importance across" not in titles
        assert len(_table(at, "open in case review"))
    finally:
        st.cache_resource.clear()


def test_a_run_that_cannot_predict_the_cohort_shows_the_message(default_cohort, monkeypatch):
    import ui.loaders

    def refuse(*args):
        raise RunError("run x stores predictions only for the cohort it was trained on (elsewhere)")

    monkeypatch.setattr(ui.loaders, "build_view", refuse)
    st.cache_resource.clear()
    try:
        at = _cohort_page()
        assert not at.exception
        assert "stores predictions only for the cohort it was trained on" in " ".join(e.value for e in at.error)
    finally:
        st.cache_resource.clear()


@pytest.fixture(scope="module")
def another_draw(tmp_path_factory):
    """A small synthetic cohort of another generator seed: external to every shipped synthetic run."""
    from lemof.data.synthetic import generate_synthetic

    path = tmp_path_factory.mktemp("external") / "draw7"
    generate_synthetic(path, n=120, seed=7)
    return path


def test_an_external_cohort_is_scored_on_every_stay_and_said_to_be_external(default_cohort, another_draw, monkeypatch):
    monkeypatch.setenv("LEMOF_COHORTS", str(another_draw))
    at = _cohort_page(cohort=f"dir:{another_draw}")
    _no_failures(at)
    assert "external to this cohort" in at.sidebar.success[0].value
    infos = " ".join(i.value for i in at.info)
    assert f"External validation: {SHIPPED_RUN.name} was trained on synthetic-n4000-seed0; none of the 120 stays" in infos
    assert not [t for t in at.toggle if t.key == "cohort_all_stays"], "no test-only switch: every stay is unseen"
    assert "120 stays (all)" in " ".join(m.value for m in at.markdown)
    view = build_view(load_run(SHIPPED_RUN), open_bundle(another_draw), "all", "ECG")
    mae = [m for m in at.metric if m.label == "MAE"][0].value
    assert mae == f"{view.overall['mae_days']:.2f} days"


def test_compare_offers_every_stay_when_the_runs_are_external(default_cohort, another_draw, monkeypatch):
    from testkit.apptest import compare_page

    monkeypatch.setenv("LEMOF_COHORTS", str(another_draw))
    runs = [load_run(REPO / "assets" / "models" / name) for name in ("synthetic-gru+resnet1d", "synthetic-late-gru+resnet1d")]
    at = compare_page(cohort=f"dir:{another_draw}", runs=",".join(r.run_id for r in runs))
    _no_failures(at)
    (scope,) = [r for r in at.radio if r.key == "compare_scope"]
    assert scope.value == "all", "every run is external: every stay by default"
    assert "External validation for " + ", ".join(r.run_id for r in runs) in " ".join(i.value for i in at.info)
    titles = " | ".join(_charts(at))
    assert "Metrics on every stay with 95 % bootstrap intervals" in titles
    scope.set_value("test").run()
    _no_failures(at)
    assert "Test metrics with 95 % bootstrap intervals" in " | ".join(_charts(at))
