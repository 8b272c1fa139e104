"""Roles (claim or allow-list, failing closed), the bind-address rule and `lemof serve`'s checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from testkit.paths import REPO
from lemof.deploy.access import AccessPolicy, Role
from lemof.deploy.server import ServerSettings, auth_problems, is_loopback
from lemof.errors import ConfigError

GOOD_AUTH = {"redirect_uri": "https://lemof.hospital.org/oauth2callback", "cookie_secret": "x" * 40,
             "client_id": "lemof", "client_secret": "s3cret", "server_metadata_url": "https://idp.hospital.org/.well-known/openid-configuration"}


def test_roles_from_a_claim(tmp_path):
    policy = AccessPolicy.from_settings({"roles_claim": "groups", "trainer_values": ["icu-ml"], "viewer_values": ["icu-staff"]})
    assert policy.decide({"email": "a@h.org", "groups": ["icu-staff", "icu-ml"]}).role is Role.TRAINER
    assert policy.decide({"email": "b@h.org", "groups": "icu-staff"}).role is Role.VIEWER
    refused = policy.decide({"email": "c@h.org", "groups": ["pharmacy"]})
    assert refused.role is None and not refused.allowed and "c@h.org has no access" in refused.reason
    assert policy.decide({"email": "d@h.org"}).role is None  # no claim at all
    assert policy.decide({"email": "e@h.org", "groups": 3}).role is None  # a malformed claim grants nothing
    assert policy.decide({"sub": "f-123", "groups": ["icu-staff"]}).identity == "f-123"


def test_roles_from_an_allow_list_are_read_at_each_decision(tmp_path):
    users = tmp_path / "users.json"
    users.write_text(json.dumps({"trainer": ["Ana@Hospital.org"], "viewer": ["ben@hospital.org", "ana@hospital.org"]}))
    policy = AccessPolicy.from_settings({"allow_list": str(users)})
    assert policy.decide({"email": "ana@hospital.org"}).role is Role.TRAINER  # case-insensitive; both lists: the higher role
    assert policy.decide({"email": "BEN@hospital.org"}).role is Role.VIEWER
    assert policy.decide({"email": "carl@hospital.org"}).role is None
    users.write_text(json.dumps({"viewer": ["carl@hospital.org"]}))
    assert policy.decide({"email": "carl@hospital.org"}).role is Role.VIEWER  # no restart needed
    assert policy.decide({"email": "ana@hospital.org"}).role is None  # removed: refused at the next sign-in


def test_claim_and_allow_list_together_grant_the_higher_role(tmp_path):
    users = tmp_path / "users.json"
    users.write_text(json.dumps({"trainer": ["ana@h.org"]}))
    policy = AccessPolicy.from_settings({"roles_claim": "roles", "viewer_values": "lemof-viewer", "allow_list": str(users)})
    assert policy.decide({"email": "ana@h.org", "roles": ["lemof-viewer"]}).role is Role.TRAINER
    assert policy.decide({"email": "ben@h.org", "roles": ["lemof-viewer"]}).role is Role.VIEWER


def test_access_fails_closed():
    nothing = AccessPolicy.from_settings(None)
    assert not nothing.configured
    decision = nothing.decide({"email": "a@h.org", "roles": ["lemof-trainer"]})
    assert decision.role is None and "no roles are configured" in decision.reason
    assert AccessPolicy.from_settings({"roles_claim": "roles", "trainer_values": ["t"]}).decide({}).role is None  # no identity


@pytest.mark.parametrize("settings, says", [
    ({"roles_claim": "roles"}, "needs trainer_values and/or viewer_values"),
    ({"role_claim": "roles"}, "unknown settings ['role_claim']"),
    ({"allow_list": "/nonexistent/users.json"}, "does not exist"),
    ({"roles_claim": ["roles"]}, "must be the name of a claim"),
])
def test_bad_access_settings_are_specific_errors(settings, says):
    with pytest.raises(ConfigError, match=None) as info:
        AccessPolicy.from_settings(settings)
    assert says in str(info.value)


def test_a_malformed_allow_list_is_a_specific_error(tmp_path):
    users = tmp_path / "users.json"
    for text, says in [("{not json", "not readable JSON"), ('{"admin": ["a"]}', "keys \"trainer\" and/or \"viewer\""), ('{"viewer": [1]}', "list of strings")]:
        users.write_text(text)
        with pytest.raises(ConfigError) as info:
            AccessPolicy.from_settings({"allow_list": str(users)})
        assert says in str(info.value)


@pytest.mark.parametrize("address, loopback", [
    ("127.0.0.1", True), ("127.0.1.5", True), ("localhost", True), ("::1", True), ("[::1]", True),
    ("0.0.0.0", False), ("", False), ("::", False), ("10.2.3.4", False), ("lemof.hospital.org", False),
])
def test_loopback_addresses(address, loopback):
    assert is_loopback(address) is loopback


def test_binding_beyond_loopback_needs_sign_in_or_the_proxy_override(monkeypatch):
    monkeypatch.delenv("LEMOF_BEHIND_AUTH_PROXY", raising=False)
    local = ServerSettings.from_secrets({})
    assert local.mode == "local" and local.bind_refusal("127.0.0.1") is None
    refusal = local.bind_refusal("0.0.0.0")
    assert refusal.startswith("Refusing to serve on 0.0.0.0 without sign-in") and "\n" not in refusal
    assert "every interface" in local.bind_refusal("")
    signed = ServerSettings.from_secrets({"auth": GOOD_AUTH, "lemof_access": {"roles_claim": "roles", "viewer_values": ["v"]}})
    assert signed.mode == "oidc" and signed.bind_refusal("0.0.0.0") is None and signed.problems() == []
    monkeypatch.setenv("LEMOF_BEHIND_AUTH_PROXY", "1")
    assert ServerSettings.from_secrets({}).mode == "proxy" and ServerSettings.from_secrets({}).bind_refusal("0.0.0.0") is None


def test_auth_settings_that_cannot_work_are_named():
    assert auth_problems(GOOD_AUTH) == []
    problems = auth_problems({**GOOD_AUTH, "cookie_secret": "short", "redirect_uri": "https://x/callback"})
    assert any("cookie_secret" in p for p in problems) and any("/oauth2callback" in p for p in problems)
    assert any("has no client_secret" in p for p in auth_problems({k: v for k, v in GOOD_AUTH.items() if k != "client_secret"}))
    named = {"redirect_uri": GOOD_AUTH["redirect_uri"], "cookie_secret": "x" * 40, "hospital": {"client_id": "c", "client_secret": "s"}}
    assert auth_problems(named) == ["[auth.hospital] has no server_metadata_url"]
    no_roles = ServerSettings.from_secrets({"auth": GOOD_AUTH})
    assert any("no roles are configured" in p for p in no_roles.problems())


def _serve(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("LEMOF_BEHIND_AUTH_PROXY", "LEMOF_PROXY_USER_HEADER")}
    return subprocess.run([sys.executable, "-m", "lemof", "serve", *args], cwd=REPO, capture_output=True, text=True, timeout=60,
                          env={**clean, "HOME": "/nonexistent-home", **(env or {})})


def test_serve_refuses_an_open_bind_in_one_line_and_checks_sign_in(tmp_path):
    proc = _serve("--address", "0.0.0.0", "--check", "--secrets", str(tmp_path / "none.toml"))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: Refusing to serve on 0.0.0.0 without sign-in")
    proxied = _serve("--address", "0.0.0.0", "--check", "--secrets", str(tmp_path / "none.toml"), env={"LEMOF_BEHIND_AUTH_PROXY": "1"})
    assert proxied.returncode == 0 and json.loads(proxied.stdout)["mode"] == "proxy"
    secrets = tmp_path / "secrets.toml"
    secrets.write_text("[auth]\nredirect_uri = \"http://localhost:8501/oauth2callback\"\ncookie_secret = \"short\"\n"
                       "client_id = \"c\"\nclient_secret = \"s\"\nserver_metadata_url = \"http://localhost:9400/.well-known/openid-configuration\"\n"
                       "[lemof_access]\nroles_claim = \"roles\"\nviewer_values = [\"lemof-viewer\"]\n")
    weak = _serve("--address", "0.0.0.0", "--check", "--secrets", str(secrets))
    assert weak.returncode == 2 and "cookie_secret" in weak.stderr
    secrets.write_text(secrets.read_text().replace('"short"', '"' + "k" * 40 + '"'))
    ok = _serve("--address", "0.0.0.0", "--check", "--secrets", str(secrets))
    assert ok.returncode == 0, ok.stderr
    out = json.loads(ok.stdout)
    assert out["mode"] == "oidc" and "claim 'roles'" in out["access"] and out["secrets"] == [str(secrets)]
    broken = tmp_path / "broken.toml"
    broken.write_text("[auth\n")
    bad = _serve("--check", "--secrets", str(broken))
    assert bad.returncode == 2 and "is not valid TOML" in bad.stderr
