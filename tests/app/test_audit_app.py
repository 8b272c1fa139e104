"""AppTest: what the pages write to the audit log: one view per arrival (not per rerun), another
stay is another view, other pages are page views; an unwritable log shows nothing of the patient."""

from __future__ import annotations

import json

from streamlit.testing.v1 import AppTest

from testkit.apptest import no_failures
from testkit.paths import REPO
from lemof import open_bundle


def _entries(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_views_are_recorded_once_per_arrival(default_cohort, tmp_path, monkeypatch):
    log = tmp_path / "audit.jsonl"
    monkeypatch.setenv("LEMOF_AUDIT_LOG", str(log))
    stays = open_bundle(default_cohort).stays
    test = stays.loc[stays["split"] == "test", "stay_id"].astype(int).tolist()
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.query_params["stay"] = str(test[0])
    at.run()
    no_failures(at)
    at.run()  # reruns of the same view (what every widget change on the page does)
    at.run()
    views = [e for e in _entries(log) if e["event"] == "stay.view"]
    assert [(e["stay"], e["page"]) for e in views] == [(test[0], "case review")]
    assert views[0]["cohort"] == "synthetic" and views[0]["run"] == "synthetic-gru+resnet1d" and views[0]["user"].startswith("local:")
    [s for s in at.selectbox if s.label.startswith("ICU stay")][0].set_value(test[1]).run()
    no_failures(at)
    at.switch_page("pages/model_card.py").run()
    no_failures(at)
    at.switch_page("pages/case_review.py").run()  # back again: a new arrival at the stay it shows
    shown = [s for s in at.selectbox if s.label.startswith("ICU stay")][0].value
    events = [(e["event"], e.get("page"), e.get("stay")) for e in _entries(log)]
    assert events == [("stay.view", "case review", test[0]), ("stay.view", "case review", test[1]),
                      ("page.view", "model and cohort", None), ("stay.view", "case review", shown)]
    from lemof.audit import verify_log

    assert verify_log(log).ok


def test_an_unwritable_audit_log_shows_nothing_of_the_patient(default_cohort, tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("LEMOF_AUDIT_LOG", str(blocker / "audit.jsonl"))
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120).run()
    assert not at.exception
    assert any("The audit log cannot be written, so nothing is shown" in e.value for e in at.error)
    assert not [m for m in at.metric if m.label == "Predicted LOS"] and not at.get("plotly_chart")


def test_a_trainer_makes_a_run_the_default_for_everyone(default_cohort, tmp_path, monkeypatch):
    log = tmp_path / "audit.jsonl"
    monkeypatch.setenv("LEMOF_AUDIT_LOG", str(log))
    from lemof.runs.shared_default import defaults_path

    defaults_path().unlink(missing_ok=True)
    try:
        at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
        at.query_params["run"] = "synthetic-tcn+tcn"
        at.run()
        at.switch_page("pages/model_card.py").run()
        no_failures(at)
        at.button(key="default_for_everyone").click().run()
        no_failures(at)
        assert any("is the default model for everyone on this cohort" in c.value for c in at.caption)
        (entry,) = [e for e in _entries(log) if e["event"] == "run.activate"]
        assert entry["scope"] == "everyone" and entry["run"] == "synthetic-tcn+tcn" and entry["cohort"] == "synthetic"
        fresh = AppTest.from_file(str(REPO / "app.py"), default_timeout=120).run()  # another user's new session
        no_failures(fresh)
        assert [s for s in fresh.sidebar.selectbox if s.label.startswith("Model")][0].value == "synthetic-tcn+tcn"
        assert any("default model for everyone" in c.value for c in fresh.sidebar.caption)
    finally:
        defaults_path().unlink(missing_ok=True)  # the shared cache: the other tests expect the usual default


def test_an_open_bind_without_sign_in_shows_only_the_refusal(default_cohort, monkeypatch):
    from streamlit import config

    monkeypatch.delenv("LEMOF_BEHIND_AUTH_PROXY", raising=False)
    before = config.get_option("server.address")
    config.set_option("server.address", "0.0.0.0")
    try:
        at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120).run()
    finally:
        config.set_option("server.address", before)
    assert not at.exception
    assert [e.value for e in at.error] == [e.value for e in at.error if e.value.startswith("Refusing to serve on 0.0.0.0 without sign-in")] and len(at.error) == 1
    assert not at.sidebar.selectbox and not at.get("plotly_chart") and not at.metric


def test_behind_an_authenticating_proxy(default_cohort, tmp_path, monkeypatch):
    log = tmp_path / "audit.jsonl"
    monkeypatch.setenv("LEMOF_AUDIT_LOG", str(log))
    monkeypatch.setenv("LEMOF_BEHIND_AUTH_PROXY", "1")
    monkeypatch.setenv("LEMOF_PROXY_USER_HEADER", "X-Forwarded-Email")
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120).run()  # no such header on this request
    assert [e.value for e in at.error] == ["The reverse proxy did not say who you are (no X-Forwarded-Email header): access refused."]
    assert not at.metric and not at.sidebar.selectbox
    assert [(e["event"], e["user"]) for e in _entries(log)] == [("auth.refused", "(unknown)")]
    monkeypatch.delenv("LEMOF_PROXY_USER_HEADER")
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120).run()
    no_failures(at)
    assert any("Signed in as **proxy-user** (trainer)" in c.value for c in at.sidebar.caption)
    assert _entries(log)[-1]["event"] == "stay.view" and _entries(log)[-1]["user"] == "proxy-user"
