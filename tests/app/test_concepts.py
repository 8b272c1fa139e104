"""The Model card and Compare pages show the level-concept heatmaps (AppTest); the concepts themselves are tested in tests/unit/test_concepts.py."""

from __future__ import annotations

def test_model_and_compare_pages_show_the_concept_heatmaps(default_cohort):
    from streamlit.testing.v1 import AppTest

    from testkit.apptest import charts, no_failures
    from testkit.paths import REPO

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120).run()
    at.switch_page("pages/model_card.py").run()
    no_failures(at)
    found = charts(at)
    heat = [c for t, c in found.items() if t.startswith("What each level encodes")]
    assert heat, list(found)
    trace = heat[0]["figure"]["data"][0]
    assert trace["type"] == "heatmap" and any("ECG level 1" in y for y in trace["y"])
    assert "best at" in heat[0]["alt"]
    at.switch_page("pages/compare.py").run()
    at.button_group(key="compare_view").set_value("What each level encodes").run()
    no_failures(at)
    compare = [c for t, c in charts(at).items() if t.startswith("What each level encodes, per configuration")]
    assert compare and sum(d["type"] == "heatmap" for d in compare[0]["figure"]["data"]) >= 2
