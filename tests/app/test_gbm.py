"""The case page of a gbm run (AppTest) on another cohort of its family; the tabular peer itself is tested in tests/unit/test_gbm.py."""

from __future__ import annotations

from testkit.apptest import chart_list, charts, no_failures
from testkit.paths import REPO
from lemof import open_bundle


def test_the_case_page_of_a_gbm_run(gbm_run, other_draw, monkeypatch):
    """A gbm run on another cohort of its family: prediction, TreeSHAP and the what-if form, no error."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("LEMOF_COHORTS", str(other_draw))
    monkeypatch.setenv("LEMOF_RUNS", str(gbm_run.parent))
    stays = open_bundle(other_draw).stays
    sid = int(stays.loc[stays["has_signal"] & (stays["split"] == "test"), "stay_id"].iloc[0])
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.query_params["cohort"] = f"dir:{other_draw}"
    at.query_params["run"] = gbm_run.name
    at.query_params["stay"] = str(sid)
    at.run()
    no_failures(at)
    assert any(m.label == "Predicted length of stay" for m in at.metric)
    reasons = [m.value for m in at.markdown if m.value.startswith("Starting point")][0]
    assert "the trees' average prediction" in reasons and "everything else" in reasons, "TreeSHAP in days on the first screen"
    at.button_group(key="case_view").set_value("Model internals").run()
    no_failures(at)
    figure = charts(at)["TreeSHAP: base value + Σ contributions = prediction"]
    assert "base value" in figure["alt"] and "prediction" in figure["alt"]
    assert any("Not available for" in i.value and "Input drivers, Level SHAP" in i.value for i in at.info)
    text = " ".join(m.value for m in at.markdown)
    assert "Base value (the trees' average output over training stays)" in text
    at.button_group(key="case_view").set_value("What if").run()
    # what-if through the trees: hide the biosignal, and the edited stay's TreeSHAP is drawn beside the original
    next(c for c in at.checkbox if c.label.startswith("Hide the")).check()
    next(b for b in at.button if b.label == "Apply").click()
    at.run()
    no_failures(at)
    assert "**What if** biosignal hidden" in " ".join(m.value for m in at.markdown)
    titles = [(c["figure"]["layout"].get("title") or {}).get("text") or "" for c in chart_list(at)]
    assert sum(t.startswith("TreeSHAP") for t in titles) == 2, "before / after the edit (the what-if view shows only those)"
