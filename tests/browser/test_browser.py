"""Real browser: `streamlit run app.py` in Debian's Chromium through Playwright.

Every page is opened, its charts must draw, no exception or error box may show, no request may
leave the server (hospital networks are often offline), and a full-page screenshot of each view
lands in ``test-artifacts/`` to be looked at.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import quote, urlparse

import pytest

from testkit.browser import CASE_READY_TEXT, REPO, charts_drawn, streamlit_server, wait_for_charts, wait_until_idle
from lemof import open_bundle

ARTIFACTS = REPO / "test-artifacts"


@pytest.fixture(scope="module")
def server(default_cohort, physionet_cohort):
    with streamlit_server(env={"LEMOF_CACHE_DIR": os.environ["LEMOF_CACHE_DIR"]}) as url:
        yield url


class Page:
    """A browser page that records every request it makes."""

    def __init__(self, browser, url: str):
        self.page = browser.new_page(viewport={"width": 1600, "height": 1200})
        self.requests: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(url)
        wait_until_idle(self.page)

    def outside(self, server: str) -> list[str]:
        """Requests that went anywhere but the app's own server."""
        host = urlparse(server).netloc
        return [u for u in self.requests if not u.startswith(("data:", "blob:")) and urlparse(u).netloc != host]

    def check(self, server: str, name: str, min_charts: int) -> str:
        wait_for_charts(self.page, min_charts)
        wait_until_idle(self.page)
        ARTIFACTS.mkdir(exist_ok=True)
        # Streamlit scrolls inside its main block: grow the window to the content for a full-page shot.
        height = self.page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
        self.page.set_viewport_size({"width": 1600, "height": min(int(height) + 80, 16000)})
        self.page.wait_for_timeout(500)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        self.page.set_viewport_size({"width": 1600, "height": 1200})
        assert self.page.locator('[data-testid="stException"]').count() == 0
        assert self.page.locator('[data-testid="stAlertContentError"]').count() == 0
        assert charts_drawn(self.page) >= min_charts
        assert self.outside(server) == [], "the app must not call anything outside its own server"
        return self.page.inner_text('[data-testid="stMain"]')

    def sidebar(self) -> str:
        return self.page.inner_text('[data-testid="stSidebar"]')


def _stay(cohort, with_signal: bool) -> int | None:
    stays = open_bundle(cohort).stays
    pick = stays.loc[(stays["split"] == "test") & (stays["has_signal"] == with_signal), "stay_id"]
    return int(pick.iloc[0]) if len(pick) else None


FIRST_VIEWPORT_JS = """() => {
    const main = document.querySelector('[data-testid="stMain"]');
    const walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT);
    const out = [];
    while (walker.nextNode()) {
        const node = walker.currentNode, el = node.parentElement, r = el.getBoundingClientRect();
        if (node.textContent.trim() && r.width > 0 && r.height > 0 && r.bottom > 0 && r.top < window.innerHeight
            && getComputedStyle(el).visibility !== 'hidden') out.push(node.textContent.trim());
    }
    return out.join('\\n');
}"""
CUT_OFF_JS = """() => Array.from(document.querySelectorAll('[data-testid="stMain"] [data-testid="stMarkdownContainer"], [data-testid="stMain"] [data-testid="stMetricValue"], [data-testid="stMain"] [data-testid="stCaptionContainer"]'))
    .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.innerText.slice(0, 80))"""


def first_screen(browser, url: str, width: int = 1440, height: int = 900):
    """A clinician's first screen: the page at ``width``×``height``, its first screen complete (the
    reasons' sum line shown), the text visible without scrolling or clicking."""
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(url)
    page.wait_for_function(f"() => (document.querySelector('[data-testid=stMain]') || {{innerText: ''}}).innerText.includes({CASE_READY_TEXT!r})", timeout=120_000)
    page.locator('[data-testid="stMetricValue"]').first.wait_for(timeout=60_000)  # Streamlit loads the metric's code on first use
    wait_until_idle(page)
    return page, page.evaluate(FIRST_VIEWPORT_JS)


def test_first_screen_answers_without_scrolling_or_clicking(browser, server, default_cohort):
    """The default link at 1440×900: the prediction, its interval and at least three reasons in
    days in the first viewport, no model jargon, nothing cut off; the same at 1280×800."""
    for width, height in ((1440, 900), (1280, 800)):
        page, visible = first_screen(browser, server, width, height)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"first-screen-{width}x{height}.png"))
        assert "Predicted length of stay" in visible and "days" in visible
        assert "% interval:" in visible
        reasons = [line for line in visible.splitlines() if "the predicted stay by about" in line and line.rstrip(".").endswith(" d")]
        assert len(reasons) >= 3, f"at least three reasons in days on the first screen, got {reasons}"
        assert "everything else =" in visible, "the sum that adds up to the prediction"
        for jargon in ("log1p", "ϕ", "meta-learner"):
            assert jargon not in visible, f"{jargon!r} on a clinician's first screen"
        assert "ICU admission to ICU discharge" in visible and "predicted at hour" in visible
        assert "Observed" not in visible, "a prospective review: no outcome"
        assert page.evaluate(CUT_OFF_JS) == [], "no text cut off"
        assert page.evaluate("document.querySelectorAll('*').length") <= 2000, "the first screen stays light"
        assert page.locator('[data-testid="stException"]').count() == 0
        page.close()


def test_case_review_with_an_ecg(browser, server, default_cohort):
    p = Page(browser, f"{server}/?stay={_stay(default_cohort, True)}")
    text = p.check(server, "case-review-with-ecg", min_charts=0)
    assert "Why this prediction" in text and "the predicted stay" in text and "Findings" in text
    assert "synthetic-gru+resnet1d" in p.sidebar() and "Model and cohort" in p.sidebar()
    p.page.get_by_role("radio", name="ECG", exact=True).click()  # a segmented control: its options are radio buttons
    text = p.check(server, "case-review-with-ecg-sheet", min_charts=1)
    assert "Where in the ECG" in text and "Measured" in text
    p.page.get_by_role("radio", name="Model internals", exact=True).click()
    text = p.check(server, "case-review-internals", min_charts=3)  # heads, level SHAP, attention
    assert "Cross-modal attention" in text
    p.page.close()


def test_stay_without_ecg_and_bad_link(browser, server, default_cohort):
    p = Page(browser, f"{server}/?stay={_stay(default_cohort, False)}")
    text = p.check(server, "case-review-without-ecg", min_charts=0)
    assert "none recorded for this stay" in text and "absent" in text
    p.page.close()
    p = Page(browser, f"{server}/?stay=not-a-stay&cohort=nonsense")
    text = p.check(server, "case-review-bad-link", min_charts=0)
    assert "not-a-stay" in text and "'nonsense'" in text
    p.page.close()


def test_model_card_pages(browser, server, default_cohort, physionet_cohort):
    for cohort, name in (("synthetic", "model-card-synthetic"), ("physionet2012", "model-card-physionet2012")):
        p = Page(browser, f"{server}/model_card?cohort={cohort}")
        text = p.check(server, name, min_charts=3)
        assert "Test MAE" in text and "Meta-learner weights" in text
        p.page.close()


def test_physionet_cohort_in_the_browser(browser, server, physionet_cohort):
    for with_signal in (True, False):
        sid = _stay(physionet_cohort, with_signal)
        assert sid is not None, f"the PhysioNet test split has stays with has_signal={with_signal}"
        page, visible = first_screen(browser, f"{server}/?cohort=physionet2012&stay={sid}")
        assert "to the end of the hospitalisation" in visible, "PhysioNet's LOS runs to hospital discharge, said where the prediction is"
        page.close()
        p = Page(browser, f"{server}/?cohort=physionet2012&stay={sid}")
        name = f"case-review-physionet2012{'' if with_signal else '-without-bedside'}"
        p.check(server, name, min_charts=0)
        sidebar = p.sidebar()
        assert "physionet2012-gru+resnet1d" in sidebar and "physionet2012-setab" in sidebar
        if with_signal:
            p.page.get_by_role("radio", name="Bedside series", exact=True).click()
            p.check(server, name + "-series", min_charts=1)
        p.page.get_by_role("radio", name="EHR timeline", exact=True).click()
        p.check(server, name + "-timeline", min_charts=1)
        p.page.close()


def test_switching_cohort_in_the_sidebar_shows_the_active_model(browser, server, physionet_cohort):
    p = Page(browser, server)
    p.check(server, "before-cohort-switch", min_charts=0)
    p.page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first.click()
    p.page.get_by_role("option", name="PhysioNet/CinC Challenge 2012 (real ICU data, sets a+b)", exact=True).click()
    p.page.wait_for_function("() => document.querySelector('[data-testid=\"stSidebar\"]').innerText.includes('Active model: physionet2012')", timeout=90_000)
    wait_until_idle(p.page)
    boxes = p.page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]')
    shown = boxes.nth(1).evaluate("e => Array.from(e.querySelectorAll('input, [data-baseweb=select] div')).map(n => n.value || n.textContent).join(' ')")
    assert "physionet2012-gru+resnet1d" in shown, "the model selector shows the active run"
    p.check(server, "after-cohort-switch", min_charts=0)
    p.page.close()


def test_a_fresh_server_opened_directly_on_a_page(browser, default_cohort):
    """A fresh server whose first request names a page (not /): the sidebar is still drawn."""
    with streamlit_server(env={"LEMOF_CACHE_DIR": os.environ["LEMOF_CACHE_DIR"]}) as url:
        p = Page(browser, f"{url}/model_card")
        text = p.check(url, "model-card-direct", min_charts=2)
        assert "Active model" in p.sidebar() and "synthetic-gru+resnet1d" in p.sidebar()
        assert "Test MAE" in text
        p.page.locator('[data-testid="stSidebarNav"] a', has_text="Case review").click()
        p.page.wait_for_selector("text=Predicted length of stay", timeout=60_000)
        wait_until_idle(p.page)
        assert p.page.locator('[data-testid="stSidebarNav"] a', has_text="Model and cohort").count() == 1
        p.page.close()


def test_compare_page_with_three_runs(browser, server, default_cohort):
    from lemof import list_runs

    entries = [e for e in list_runs(source="synthetic")[0] if e.shipped]
    lemof_runs = [e.run_id for e in entries if e.fusion == "lemof"][:2]
    baseline = [e.run_id for e in entries if e.fusion != "lemof"][:1]
    runs = ",".join(lemof_runs + baseline)
    p = Page(browser, f"{server}/?page=compare&runs={quote(runs)}&stay={_stay(default_cohort, True)}")  # '+' in run ids must be encoded
    # a link naming a stay opens its view: metrics, scatter, this stay, and per LeMoF run level SHAP, waterfall, attention
    text = p.check(server, "compare-three-runs-one-stay", min_charts=3 + 3 * len(lemof_runs))
    assert "Compare runs" in text and "Interval calibration" in text, "the other views are offered"
    assert "Where" in text and "disagree most" in text
    assert "is a baseline: no level SHAP" in text
    p.page.close()


def test_benchmark_evidence_page(browser, server, default_cohort):
    """The grids' forest plots and the level pairs, drawn from the committed result files."""
    p = Page(browser, f"{server}/?page=evidence")
    text = p.check(server, "benchmark-evidence-forest", min_charts=1)
    assert "Benchmark evidence" in text and "LeMoF better" in text
    p.page.get_by_text("Level guidance: every level pair").click()
    wait_until_idle(p.page)
    text = p.check(server, "benchmark-evidence-level-pairs", min_charts=1)
    assert "Shapley choice ranks" in text and "the average pair" in text
    p.page.close()


def test_retrain_page_runs_a_quick_job(browser, tiny_cohort, tmp_path):
    """A quick job started from the page runs in the background and finishes; the page shows it."""
    import os

    cache = tmp_path / "cache"
    (cache / "cohorts").mkdir(parents=True)
    (cache / "cohorts" / "tiny").symlink_to(tiny_cohort)
    for built in ("synthetic-n4000-seed0-v1",):
        src = Path(os.environ["LEMOF_CACHE_DIR"]) / "cohorts" / built
        if src.exists():
            (cache / "cohorts" / built).symlink_to(src)
    with streamlit_server(env={"LEMOF_CACHE_DIR": str(cache), "OMP_NUM_THREADS": "1"}) as url:
        p = Page(browser, f"{url}/retrain?cohort=dir:{cache / 'cohorts' / 'tiny'}")
        p.page.get_by_role("radio", name="quick").click()  # a segmented control: its options are radio buttons
        wait_until_idle(p.page)
        p.page.get_by_label("Run name", exact=True).fill("browser-quick-run")
        p.page.get_by_text("Tabular head: LightGBM on per-stay summaries").click()  # on by default; off here to keep the job short
        p.page.get_by_role("button", name="Train").click()
        p.page.wait_for_selector("text=Started job", timeout=60_000)
        p.page.wait_for_selector("text=Finished: test MAE", timeout=150_000)  # well inside the test timeout
        text = p.check(url, "retrain-finished", min_charts=1)  # the loss curves
        assert "browser-quick-run" in text and "Make it the active model" in text
        p.page.get_by_role("button", name="Make it the active model").click()
        p.page.wait_for_function("() => document.querySelector('[data-testid=\"stSidebar\"]').innerText.includes('Active model: browser-quick-run')", timeout=60_000)
        p.page.close()
    assert json.loads((cache / "runs" / "browser-quick-run" / "config.json").read_text())["train"]["tabular_head"] is False, "the click switched the head off"


def test_cohort_page(browser, server, default_cohort, physionet_cohort):
    for cohort, name in (("synthetic", "cohort-synthetic"), ("physionet2012", "cohort-physionet2012")):
        p = Page(browser, f"{server}/?page=cohort&cohort={cohort}")
        text = p.check(server, name, min_charts=4)  # level importance, calibration, subgroups, head contributions
        assert "Error by subgroup" in text and "Calibration" in text
        p.page.close()
