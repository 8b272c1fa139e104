"""Real browser: `streamlit run app.py` in Debian's Chromium through Playwright."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from browser import CHROMIUM, CHROMIUM_ARGS, REPO, charts_drawn, streamlit_server, wait_for_charts, wait_until_idle
from lemof import open_bundle

pytestmark = pytest.mark.browser
ARTIFACTS = REPO / "test-artifacts"


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        if os.environ.get("LEMOF_REQUIRE_BROWSER") == "1":
            pytest.fail(f"Chromium not found at {CHROMIUM} (install Debian's chromium)")
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def server(default_cohort):
    with streamlit_server(env={"LEMOF_CACHE_DIR": os.environ["LEMOF_CACHE_DIR"]}) as url:
        yield url


def _open(browser, url: str, name: str, min_charts: int):
    page = browser.new_page(viewport={"width": 1600, "height": 2400})
    page.goto(url)
    wait_until_idle(page)
    wait_for_charts(page, min_charts)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    return page


def test_case_review_renders_charts_without_exceptions(browser, server, default_cohort):
    stays = open_bundle(default_cohort).stays
    with_ecg = int(stays.loc[(stays["split"] == "test") & stays["has_signal"], "stay_id"].iloc[0])
    page = _open(browser, f"{server}/?stay={with_ecg}", "case-review-with-ecg", min_charts=5)
    assert charts_drawn(page) >= 5  # timeline, ECG, level SHAP, contributions, attention
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0
    text = page.inner_text('[data-testid="stMain"]')
    assert "Predicted LOS" in text and "Cross-modal attention" in text
    sidebar = page.inner_text('[data-testid="stSidebar"]')
    assert "synthetic-gru+resnet1d" in sidebar and "Model and cohort" in sidebar
    page.close()


def test_stay_without_ecg_and_bad_link(browser, server, default_cohort):
    stays = open_bundle(default_cohort).stays
    no_ecg = int(stays.loc[(stays["split"] == "test") & ~stays["has_signal"], "stay_id"].iloc[0])
    page = _open(browser, f"{server}/?stay={no_ecg}", "case-review-without-ecg", min_charts=3)
    text = page.inner_text('[data-testid="stMain"]')
    assert "has no ECG data" in text and "absent" in text
    assert page.locator('[data-testid="stException"]').count() == 0
    page.close()
    page = _open(browser, f"{server}/?stay=not-a-stay", "case-review-bad-link", min_charts=3)
    assert "not-a-stay" in page.inner_text('[data-testid="stMain"]')
    assert page.locator('[data-testid="stException"]').count() == 0
    page.close()


def test_a_fresh_server_opened_directly_on_a_page(browser, default_cohort):
    """A fresh server whose first request names a page (not /): the sidebar is still drawn."""
    with streamlit_server(env={"LEMOF_CACHE_DIR": os.environ["LEMOF_CACHE_DIR"]}) as url:
        page = _open(browser, f"{url}/model_card", "model-card-direct", min_charts=2)
        sidebar = page.inner_text('[data-testid="stSidebar"]')
        assert "Active model" in sidebar and "synthetic-gru+resnet1d" in sidebar
        assert "Test MAE" in page.inner_text('[data-testid="stMain"]')
        assert page.locator('[data-testid="stException"]').count() == 0
        page.locator('[data-testid="stSidebar"] a', has_text="Case review").click()
        page.wait_for_selector("h1:has-text('Case review')", timeout=60_000)
        wait_until_idle(page)
        assert page.locator('[data-testid="stSidebar"] a', has_text="Model and cohort").count() == 1
        page.close()


def test_physionet_cohort_in_the_browser(browser, server, physionet_cohort):
    stays = open_bundle(physionet_cohort).stays
    sid = int(stays.loc[(stays["split"] == "test") & stays["has_signal"], "stay_id"].iloc[0])
    page = _open(browser, f"{server}/?cohort=physionet2012&stay={sid}", "case-review-physionet2012", min_charts=5)
    sidebar = page.inner_text('[data-testid="stSidebar"]')
    assert "physionet2012-gru+resnet1d" in sidebar and "physionet2012-setab" in sidebar
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0
    page.close()
