"""The app's pages on the hostile cohort (AppTest: every figure of every page, checked as JSON) show every payload as text; the library's escaping and the case report are tested in tests/unit/test_hostile_text.py."""

from __future__ import annotations

import pytest

from testkit.apptest import chart_list, no_failures
from testkit.paths import REPO
from testkit.hostile import figure_texts, raw_payloads, shown, stay_in
from lemof import open_bundle
from tests.fixtures.hostile_bundle import (
    CARE_UNITS,
    COHORT_NAME,
    GBM_RUN_ID,
    LEMOF_RUN_ID,
    MARKUP,
    SIGNAL_SHORT_LABEL,
)


def _page(hostile_cohort, hostile_runs, monkeypatch, page: str | None = None, **params):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("LEMOF_COHORTS", str(hostile_cohort))
    monkeypatch.setenv("LEMOF_RUNS", str(hostile_runs))
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=180)
    at.query_params["cohort"] = f"dir:{hostile_cohort}"
    if page:
        at.query_params["page"] = page
    for k, v in params.items():
        at.query_params[k] = v
    return at.run()


def _check_page(at, min_charts: int) -> str:
    no_failures(at)
    assert not at.warning, [w.value for w in at.warning]
    charts = chart_list(at)
    assert len(charts) >= min_charts
    assert raw_payloads([t for c in charts for t in figure_texts(c["figure"])]) == [], "figure text holds no payload unescaped"
    alts = " ".join(c["alt"] for c in charts)
    assert "&lt;" not in alts and "&#34;" not in alts, "the text alternatives are plain text (Streamlit shows them as text)"
    return shown(at.sidebar.success[0].value)


@pytest.mark.parametrize("run_id", [LEMOF_RUN_ID, GBM_RUN_ID])
def test_case_review_of_the_hostile_cohort(hostile_cohort, hostile_runs, monkeypatch, run_id):
    bundle = open_bundle(hostile_cohort)
    stay = stay_in(bundle, CARE_UNITS["TSICU"])
    at = _page(hostile_cohort, hostile_runs, monkeypatch, run=run_id, stay=str(stay))
    sidebar = _check_page(at, min_charts=0)  # the first screen: words only
    assert COHORT_NAME in sidebar and run_id in sidebar, "the active cohort and model are named as written"
    assert CARE_UNITS["TSICU"] in " ".join(shown(m.value) for m in at.markdown), "the care unit is shown as written"
    alts, n_charts = [], 0
    for view in at.button_group(key="case_view").options:  # every view of the stay, each checked as the first screen is
        at.button_group(key="case_view").set_value(view).run()
        _check_page(at, min_charts=0)
        assert "![beacon]" not in " ".join(m.value for m in [*at.markdown, *at.caption, *at.sidebar.caption]), "cohort Markdown is escaped, never obeyed"
        alts += [c["alt"] for c in chart_list(at)]
        n_charts += len(chart_list(at))
    assert n_charts >= 3
    assert SIGNAL_SHORT_LABEL in " ".join(alts) or MARKUP in " ".join(alts), "the alt text reads the cohort's text as written"


@pytest.mark.parametrize("page", ["compare", "model_card", "cohort", "retrain", "worklist"])
def test_other_pages_of_the_hostile_cohort(hostile_cohort, hostile_runs, monkeypatch, page):
    params = {"runs": f"{LEMOF_RUN_ID},{GBM_RUN_ID}"} if page == "compare" else {"run": LEMOF_RUN_ID}
    at = _page(hostile_cohort, hostile_runs, monkeypatch, page, **params)
    sidebar = _check_page(at, min_charts={"compare": 1, "model_card": 2, "cohort": 3, "retrain": 0, "worklist": 0}[page])
    assert COHORT_NAME in sidebar
    if page == "compare":  # every view of the comparison, each checked the same way
        from testkit.apptest import COMPARE_VIEWS

        for view in COMPARE_VIEWS:
            at.button_group(key="compare_view").set_value(view).run()
            _check_page(at, min_charts=0)
