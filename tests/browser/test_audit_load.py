"""Load test of the audit trail: 25 browser sessions at once, each reviewing a stay; the log must
hold exactly one view entry per session and stay (none lost, none doubled), and verify.

The sessions are 25 tabs of one Chromium profile (a Streamlit session is a tab: each has its own
WebSocket and session id, and the server runs them at once); tabs of one profile share the
browser's compiled-script cache, which halves the time Chromium spends drawing 25 case pages on
two cores (about 1.5 min; the server's share is a few seconds). That a rerun of the same view is not logged again, and that choosing another stay
is, is checked in ``test_app.py`` without a browser."""

from __future__ import annotations

import json
import os
from collections import Counter

from testkit.browser import streamlit_server
from testkit.fresh import lemof_cli
from lemof import open_bundle

SESSIONS = 25
_SHOWS_STAY = """(sid) => document.body.innerText.includes('Predicted length of stay')
    && Array.from(document.querySelectorAll('[data-testid="stSelectbox"]')).some(e => e.innerHTML.includes(sid + " · "))"""  # the headline of that very stay (its id is in the stay picker)
STAYS_EACH = 1


def test_25_concurrent_sessions_reviewing_stays_are_counted_exactly(browser, default_cohort, tmp_path):
    stays = open_bundle(default_cohort).stays
    test_ids = stays.loc[stays["split"] == "test", "stay_id"].astype(int).tolist()
    plan = [[test_ids[(s * STAYS_EACH + k) % len(test_ids)] for k in range(STAYS_EACH)] for s in range(SESSIONS)]
    log = tmp_path / "audit.jsonl"
    env = {"LEMOF_CACHE_DIR": os.environ["LEMOF_CACHE_DIR"], "LEMOF_AUDIT_LOG": str(log)}
    with streamlit_server(env=env) as url:
        context = browser.new_context(viewport={"width": 900, "height": 700})  # 25 tabs: each page load is its own Streamlit session
        pages = [context.new_page() for _ in range(SESSIONS)]
        for round_ in range(STAYS_EACH):
            for page, stays_of in zip(pages, plan):  # every session asks at once; the server runs them concurrently
                page.goto(f"{url}/?stay={stays_of[round_]}", wait_until="commit")
            for page, stays_of in zip(pages, plan):
                page.wait_for_function(_SHOWS_STAY, arg=str(stays_of[round_]), timeout=280_000)
                assert page.locator('[data-testid="stException"]').count() == 0
        context.close()
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    views = [e for e in entries if e["event"] == "stay.view"]
    assert len(views) == SESSIONS * STAYS_EACH  # exactly: none lost, none written twice
    assert Counter(e["stay"] for e in views) == Counter(s for stays_of in plan for s in stays_of)
    assert len({e["session"] for e in views}) == SESSIONS * STAYS_EACH  # a page load is a new session, each with one view
    assert all(e["page"] == "case review" and e["user"].startswith("local:") and e["role"] == "trainer" for e in views)
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
    proc = lemof_cli("audit", "verify", "--log", str(log), timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert f"intact, {len(entries)} entries" in proc.stdout
