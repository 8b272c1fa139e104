"""Real browser, hostile cohort: script-injection payloads in every text field of a bundle
(``tests/fixtures/hostile_bundle.py``) run no script in the case report or on any page, and read
as literal text. One server for every page; a full-page screenshot of the case review lands in
``test-artifacts/`` to be looked at.
"""

from __future__ import annotations

import os
from urllib.parse import quote

import pytest

from testkit.browser import streamlit_server
from lemof import load_run, open_bundle
from lemof.report import write_case_report
from tests.browser.test_browser import ARTIFACTS, Page
from tests.fixtures.hostile_bundle import CARE_UNITS, CITATION, COHORT_NAME, GBM_RUN_ID, LEMOF_RUN_ID, MARKUP, SIGNAL_SHORT_LABEL


# window.__pwned is what every payload would set; svg <a> is what Plotly makes of an obeyed <a href>.
STATE_JS = """() => ({
    pwned: typeof window.__pwned !== 'undefined',
    svg_links: document.querySelectorAll('.main-svg a').length,
    injected_images: Array.from(document.querySelectorAll('img')).filter(i => (i.getAttribute('src') || '') === 'x').length,
    figure_text: Array.from(document.querySelectorAll('.main-svg text')).map(t => t.textContent).join('\\n'),
})"""


def _assert_inert(page, where: str) -> str:
    state = page.evaluate(STATE_JS)
    assert not state["pwned"], f"{where}: a payload ran"
    assert state["svg_links"] == 0 and state["injected_images"] == 0, f"{where}: markup from the cohort was obeyed"
    return state["figure_text"]


@pytest.fixture(scope="module")
def server(hostile_cohort, hostile_runs):
    env = {"LEMOF_CACHE_DIR": os.environ["LEMOF_CACHE_DIR"], "LEMOF_COHORTS": str(hostile_cohort), "LEMOF_RUNS": str(hostile_runs)}
    with streamlit_server(env=env) as url:
        yield url


def _stay(hostile_cohort) -> int:
    s = open_bundle(hostile_cohort).stays
    return int(s.loc[(s["first_careunit"] == CARE_UNITS["CCU"]) & s["has_signal"], "stay_id"].iloc[0])


def test_case_report_runs_no_script_in_chromium(browser, hostile_cohort, hostile_runs, tmp_path):
    out = write_case_report(load_run(hostile_runs / LEMOF_RUN_ID), open_bundle(hostile_cohort), _stay(hostile_cohort), tmp_path / "report.html", user="test")
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(out.as_uri())
    page.wait_for_function("() => document.querySelectorAll('.plotly-graph-div .main-svg').length >= 7", timeout=60_000)
    figure_text = _assert_inert(page, "case report")
    text = page.inner_text("body")
    for shown in (CARE_UNITS["CCU"], COHORT_NAME, CITATION, SIGNAL_SHORT_LABEL, LEMOF_RUN_ID):
        assert shown in text, f"{shown!r} reads as written in the report"
    assert MARKUP in figure_text, "figure text shows the markup as written"
    page.screenshot(path=str(ARTIFACTS / "hostile-case-report.png"), full_page=True)
    page.close()


def test_every_page_of_the_hostile_cohort_runs_no_script(browser, server, hostile_cohort):
    cohort = quote(f"dir:{hostile_cohort}", safe="")
    run, runs = quote(LEMOF_RUN_ID, safe=""), quote(f"{LEMOF_RUN_ID},{GBM_RUN_ID}", safe="")
    stay = _stay(hostile_cohort)
    views = [  # (name, link, charts that must draw)
        ("hostile-case-review", f"/?cohort={cohort}&run={run}&stay={stay}", 0),  # the first screen: words; its views below
        ("hostile-compare", f"/?page=compare&cohort={cohort}&runs={runs}&stay={stay}", 4),
        ("hostile-model-card", f"/?page=model_card&cohort={cohort}&run={run}", 2),
        ("hostile-cohort", f"/?page=cohort&cohort={cohort}&run={run}", 3),
        ("hostile-retrain", f"/?page=retrain&cohort={cohort}&run={run}", 0),
    ]
    for name, link, min_charts in views:
        p = Page(browser, server + link)
        text = p.check(server, name, min_charts=min_charts)  # also: no exception, no error box, nothing fetched from outside
        figure_text = _assert_inert(p.page, name)
        sidebar = p.sidebar()
        assert COHORT_NAME in sidebar and CITATION in sidebar, f"{name}: the cohort's name and citation read as written"
        if name == "hostile-case-review":
            assert CARE_UNITS["CCU"] in text and LEMOF_RUN_ID in sidebar, "the care unit and the run read as written"
            for view, charts in (("EHR timeline", 1), ("Inputs over time", 2), ("Model internals", 3)):  # each view drawn, each checked the same way
                p.page.get_by_role("radio", name=view, exact=True).click()
                p.check(server, f"{name}-{view.lower().replace(' ', '-')}", min_charts=charts)
                figure_text += _assert_inert(p.page, f"{name}, {view}")
            assert MARKUP in figure_text, "figure text shows the markup as written"
        p.page.close()
