"""A baseline run in the app (AppTest): its pages show what applies to it; the fusions themselves are tested in tests/unit/test_fusions.py."""

from __future__ import annotations

import os


from testkit.apptest import charts
from testkit.paths import REPO


def test_a_baseline_run_in_the_app(fusion_runs, default_cohort, monkeypatch):
    """A baseline trained on another cohort draw is offered for the synthetic family; the page says what applies."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("LEMOF_RUNS", os.pathsep.join(str(fusion_runs[f].parent) for f in ("late", "gbm")))
    for fusion, ig in (("late", True), ("gbm", False)):
        at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
        at.query_params["run"] = fusion_runs[fusion].name
        at.run()
        assert not at.exception
        assert not at.error, [e.value for e in at.error]
        assert any(m.label == "Predicted length of stay" for m in at.metric)
        reasons = [m.value for m in at.markdown if m.value.startswith("Starting point")]
        assert reasons and "everything else" in reasons[0], "the reasons in days: drivers for a network, TreeSHAP in days for the trees"
        views = at.button_group(key="case_view").options
        assert ("Inputs over time" in views) == ig, "Integrated Gradients over time for a neural baseline"
        at.button_group(key="case_view").set_value("Model internals").run()
        assert not at.exception and not at.error, [e.value for e in at.error]
        info = " ".join(i.value for i in at.info)
        assert f"({fusion}): " in info and "Level SHAP, Head contributions" in info and "Not available for" in info
        assert ("Input drivers" in info) == (not ig), "the drivers apply to a neural baseline, not to the trees"
        assert not any("Per-level SHAP" in c.value for c in at.caption)
        assert ("TreeSHAP: base value + Σ contributions = prediction" in charts(at)) == (fusion == "gbm"), "gbm explains itself on another draw"
        at.switch_page("pages/model_card.py").run()
        assert not at.exception and not at.error, [e.value for e in at.error]
        assert "Level importance is stage 2 of LeMoF" in " ".join(i.value for i in at.info)
