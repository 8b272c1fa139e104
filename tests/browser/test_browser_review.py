"""Real browser: a clinician records a review on the case page, the worklist shows it, the export
has it — and hostile text in the note is shown as text, never as markup, and neutralised for a
spreadsheet in the export.

One server (local single-user mode: the visitor is a trainer) on the default cohort, with its
own review database (SQLite file) and audit log.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import pytest

from testkit.browser import CASE_READY_TEXT, REPO, full_page_shot, streamlit_server, wait_until_idle
from lemof import open_bundle

ARTIFACTS = REPO / "test-artifacts"
NOTE = '=HYPERLINK("http://evil.example","x") <img src=x onerror="window.__pwned=1"> **not bold** [link](http://evil.example)'


@pytest.fixture(scope="module")
def review_server(default_cohort, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("review-server")
    env = {"LEMOF_CACHE_DIR": os.environ["LEMOF_CACHE_DIR"], "LEMOF_DATABASE_URL": f"sqlite:///{tmp / 'reviews.db'}",
           "LEMOF_AUDIT_LOG": str(tmp / "audit.jsonl")}
    with streamlit_server(env=env) as url:
        yield url, env


def _test_stay(cohort, with_signal: bool = True) -> int:
    stays = open_bundle(cohort).stays
    pick = stays[(stays["split"] == "test") & (stays["has_signal"] == with_signal)]
    return int(pick["stay_id"].iloc[0])


def _shot(page, name: str) -> None:
    full_page_shot(page, ARTIFACTS / f"{name}.png", 1440, 900, max_height=12000)


def test_review_then_worklist_then_export(browser, review_server, default_cohort):
    url, env = review_server
    stay = _test_stay(default_cohort)
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(f"{url}/?stay={stay}")
    page.wait_for_function("(t) => document.querySelector('[data-testid=\"stMain\"]')?.innerText.includes(t)", arg=CASE_READY_TEXT, timeout=120_000)
    wait_until_idle(page)
    main = page.inner_text('[data-testid="stMain"]')
    assert "Not yet reviewed by you" in main
    # the form is on the first screen: its button is visible without scrolling
    button = page.get_by_role("button", name="Record your review")
    assert button.is_visible() and button.bounding_box()["y"] + button.bounding_box()["height"] <= 900
    button.click()
    pop = page.locator('[data-testid="stPopoverBody"]')
    pop.get_by_text("Your verdict on the prediction").wait_for(timeout=30_000)
    pop.get_by_text("Partly agree").click()
    pop.get_by_label("Your own estimate of the length of stay, in days (optional)").fill("6.5")
    pop.locator('[data-testid="stRadio"]').filter(has_text="The reasons in days").get_by_text("Useful", exact=True).click()
    pop.get_by_label("Note (optional)").fill(NOTE)
    _shot(page, "review-form-filled")
    pop.get_by_role("button", name="Save review").click()
    page.wait_for_function("() => document.querySelector('[data-testid=\"stMain\"]')?.innerText.includes('Your review: Partly agree')", timeout=60_000)
    wait_until_idle(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    # the note, shown back to the reviewer, is text: no element from it, no script run
    earlier = page.locator('[data-testid="stPopoverBody"]').get_by_text("Earlier reviews of this stay")
    if not earlier.is_visible():  # the popover may stay open across the save's rerun
        page.get_by_role("button", name="Edit your review").click()
    earlier.wait_for(timeout=30_000)
    shown = page.inner_text('[data-testid="stPopoverBody"]')
    assert "<img src=x" in shown and "**not bold**" in shown and "[link](http://evil.example)" in shown
    assert page.locator('img[src="x"]').count() == 0 and page.evaluate("() => window.__pwned === undefined")
    assert page.locator('[data-testid="stPopoverBody"] a[href^="http://evil"]').count() == 0
    _shot(page, "review-earlier-reviews")
    page.keyboard.press("Escape")

    # the worklist: the stay is reviewed by me, with my verdict
    page.goto(f"{url}/?page=worklist")
    page.wait_for_function("() => document.querySelector('[data-testid=\"stMain\"]')?.innerText.includes('reviewed by you')", timeout=120_000)
    wait_until_idle(page)
    main = page.inner_text('[data-testid="stMain"]')
    assert "1 reviewed by you" in main
    assert page.locator('[data-testid="stException"]').count() == 0 and page.locator('[data-testid="stAlertContentError"]').count() == 0
    grid = page.locator('[data-testid="stDataFrame"]').first
    grid.wait_for(timeout=30_000)
    _shot(page, "worklist")
    # the export has it, the note neutralised for a spreadsheet
    out = subprocess.run([sys.executable, "-m", "lemof", "review", "export", "--url", env["LEMOF_DATABASE_URL"]], cwd=REPO,
                         env={**os.environ, **env}, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert len(rows) == 1
    row = rows[0]
    assert int(row["stay_id"]) == stay and row["verdict"] == "partly" and float(row["estimate_days"]) == pytest.approx(6.5)
    assert row["note"] == "'" + NOTE and row["user"].startswith("local:")
    # one audit entry for the save (and one for the export, by the CLI)
    entries = [json.loads(line) for line in open(env["LEMOF_AUDIT_LOG"], encoding="utf-8")]
    saves = [e for e in entries if e.get("event") == "review.save"]
    assert len(saves) == 1 and saves[0].get("stay") == stay
    page.close()
