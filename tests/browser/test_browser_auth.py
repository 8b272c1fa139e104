"""Sign-in end to end in the real browser, against a local OpenID Connect provider started here
(``oidc-provider-mock``): before sign-in nothing of a patient reaches the browser; a trainer signs
in and sees every page; a viewer cannot open Retrain; an unknown user is refused; sign-out ends
the session; every step is in the audit log, which verifies."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from testkit.browser import REPO, free_port, full_page_shot, streamlit_server, wait_until_idle
from testkit.fresh import lemof_cli
from lemof import open_bundle

ARTIFACTS = REPO / "test-artifacts"
USERS = {
    "ana": {"email": "ana@hospital.org", "name": "Ana Trainer", "roles": ["lemof-trainer"]},
    "ben": {"email": "ben@hospital.org", "name": "Ben Viewer", "roles": ["lemof-viewer"]},
    "eve": {"email": "eve@elsewhere.org", "name": "Eve Outsider", "roles": ["pharmacy"]},
}


@pytest.fixture(scope="module")
def provider():
    from oidc_provider_mock import run_server_in_thread
    from oidc_provider_mock._storage import User

    users = [User(sub=sub, claims=claims) for sub, claims in USERS.items()]
    with run_server_in_thread(port=free_port(), user_claims=users) as server:
        yield f"http://127.0.0.1:{server.server_port}"


@pytest.fixture(scope="module")
def signed_server(provider, default_cohort, tmp_path_factory):
    folder = tmp_path_factory.mktemp("auth")
    port = free_port()
    secrets = folder / "secrets.toml"
    secrets.write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        f'cookie_secret = "{"c" * 48}"\n'
        'client_id = "lemof-explorer"\n'
        'client_secret = "test-secret"\n'
        f'server_metadata_url = "{provider}/.well-known/openid-configuration"\n'
        "[lemof_access]\n"
        'roles_claim = "roles"\n'
        'trainer_values = ["lemof-trainer"]\n'
        'viewer_values = ["lemof-viewer"]\n'
    )
    log = folder / "audit.jsonl"
    env = {"LEMOF_CACHE_DIR": os.environ["LEMOF_CACHE_DIR"], "LEMOF_AUDIT_LOG": str(log)}
    with streamlit_server(env=env, port=port, args=("--secrets.files", str(secrets))) as url:
        yield url, log


def _entries(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def _sign_in(context, url: str, sub: str, frames: list | None = None):
    page = context.new_page()
    page.set_viewport_size({"width": 1500, "height": 1100})
    if frames is not None:
        page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(payload if isinstance(payload, bytes) else payload.encode())))
    page.goto(url)
    wait_until_idle(page)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector(f'button[name="sub"][value="{sub}"]', timeout=60_000)  # the provider's own page
    page.click(f'button[name="sub"][value="{sub}"]')
    page.wait_for_url(re.compile(r"^http://127\.0\.0\.1:\d+/?(\?.*)?$"), timeout=60_000)
    wait_until_idle(page)
    return page


def _shot(page, name: str) -> None:
    full_page_shot(page, ARTIFACTS / f"{name}.png", 1500, 1100, max_height=9000)


def test_sign_in_roles_refusal_and_sign_out(browser, signed_server, default_cohort):
    url, log = signed_server
    stays = open_bundle(default_cohort).stays
    some_ids = [str(s) for s in stays["stay_id"].to_numpy()[:200]]

    # 1. Before sign-in: a sign-in page and nothing else; no stay id, chart or cohort reaches the browser.
    anon = browser.new_context()
    frames: list[bytes] = []
    page = anon.new_page()
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(payload if isinstance(payload, bytes) else payload.encode())))
    page.goto(f"{url}/?stay={some_ids[0]}")
    wait_until_idle(page)
    _shot(page, "auth-sign-in")
    text = page.inner_text('[data-testid="stMain"]')
    assert "Sign in with your hospital account" in text
    assert page.locator('[data-testid="stSidebar"]').count() == 0 and page.locator('[data-testid="stPlotlyChart"]').count() == 0
    received = b"".join(frames)
    assert received, "the page's websocket frames were not captured"
    assert not [s for s in some_ids[1:] if s.encode() in received], "a stay id reached the browser before sign-in"
    for leak in (b"Case review", b"Active cohort", b"Synthetic", b"synthetic-gru"):
        assert leak not in received, leak
    page.goto(f"{url}/retrain")
    wait_until_idle(page)
    page.get_by_text("Sign in with your hospital account").wait_for(timeout=30_000)
    main = page.inner_text('[data-testid="stMain"]')  # Streamlit also says the page was not found, over the sign-in page
    assert "Sign in with your hospital account" in main and "Training runs" not in main
    anon.close()

    # 2. A trainer signs in: case review, the Retrain page, who they are in the sidebar.
    ana = browser.new_context()
    page = _sign_in(ana, url, "ana")
    page.get_by_text("Predicted length of stay").first.wait_for(timeout=90_000)
    wait_until_idle(page)
    sidebar = page.inner_text('[data-testid="stSidebar"]')
    assert "Signed in as ana@hospital.org (trainer)" in sidebar and "Retrain" in sidebar
    _shot(page, "auth-trainer-case")
    with page.expect_download(timeout=90_000) as download:
        page.get_by_role("button", name=re.compile("Case report")).click()
    report = Path(download.value.path()).read_text(encoding="utf-8")
    reported = int(re.search(r"Case report: ICU stay (\d+)", report).group(1))
    page.goto(f"{url}/retrain")
    page.get_by_text("Training runs in a separate process").wait_for(timeout=60_000)
    wait_until_idle(page)

    # 3. A viewer: no Retrain in the menu, and its URL does not open it.
    ben = browser.new_context()
    page_b = _sign_in(ben, url, "ben")
    page_b.get_by_text("Predicted length of stay").first.wait_for(timeout=90_000)
    wait_until_idle(page_b)
    sidebar = page_b.inner_text('[data-testid="stSidebar"]')
    assert "Signed in as ben@hospital.org (viewer)" in sidebar and "Retrain" not in sidebar and "Case review" in sidebar
    page_b.goto(f"{url}/retrain")
    page_b.get_by_text("The page that you have requested does not seem to exist").wait_for(timeout=60_000)
    page_b.get_by_text("Predicted length of stay").first.wait_for(timeout=90_000)  # it runs case review instead
    wait_until_idle(page_b)
    main = page_b.inner_text('[data-testid="stMain"]')
    assert "Training runs in a separate process" not in main and "Start training" not in main
    _shot(page_b, "auth-viewer-retrain")
    ben.close()

    # 4. Someone the identity provider knows but this unit does not: refused, nothing shown.
    eve = browser.new_context()
    page_e = _sign_in(eve, url, "eve")
    page_e.get_by_text("has no access").wait_for(timeout=60_000)
    text = page_e.inner_text('[data-testid="stMain"]')
    assert "eve@elsewhere.org has no access to LeMoF Explorer" in text
    assert page_e.locator('[data-testid="stSidebar"]').count() == 0 and page_e.locator('[data-testid="stPlotlyChart"]').count() == 0
    _shot(page_e, "auth-refused")
    eve.close()

    # 5. Sign-out: back to the sign-in page; the session no longer shows patients.
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r".*/oauth2/end_session\?.*"), timeout=60_000)  # the provider ends its session too (the mock asks to confirm)
    page.locator("form[action*='end_session'] button").first.click()
    page.wait_for_url(re.compile(r"^http://127\.0\.0\.1:\d+/?(\?.*)?$"), timeout=60_000)
    page.get_by_text("Sign in with your hospital account").wait_for(timeout=60_000)
    assert page.locator('[data-testid="stSidebar"]').count() == 0
    ana.close()

    # 6. The audit log has each step, and verifies.
    entries = _entries(log)
    events = [(e["event"], e["user"], e.get("role")) for e in entries]
    assert ("auth.sign_in", "ana@hospital.org", "trainer") in events
    assert ("auth.sign_in", "ben@hospital.org", "viewer") in events
    assert ("auth.refused", "eve@elsewhere.org", None) in events
    assert ("auth.sign_out", "ana@hospital.org", "trainer") in events
    views = [e for e in entries if e["event"] == "stay.view"]
    assert {e["user"] for e in views} == {"ana@hospital.org", "ben@hospital.org"}
    assert all(e["page"] == "case review" and e["cohort"] and e["run"] and isinstance(e["stay"], int) for e in views)
    assert not any(e["user"] == "eve@elsewhere.org" and e["event"] != "auth.refused" for e in entries)
    assert [e for e in entries if e["event"] == "page.view" and e["page"] == "retrain"][0]["user"] == "ana@hospital.org"
    (download_entry,) = [e for e in entries if e["event"] == "report.download"]
    assert download_entry["user"] == "ana@hospital.org" and download_entry["stay"] == reported and download_entry["fingerprint"]
    proc = lemof_cli("audit", "verify", "--log", str(log), timeout=60)
    assert proc.returncode == 0, proc.stderr
