"""AppTest: the review form on the case page, an unreachable database (a clear message, and what
the reviewer typed is kept until a save succeeds), the worklist's status after a save, a viewer
who sees only their own reviews, and what the reviews say on the Model page."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from testkit.apptest import no_failures
from testkit.paths import REPO
from lemof import open_bundle
from lemof.reviews import ReviewStore

TIMEOUT = 180
UNREACHABLE = "postgresql+psycopg://lemof:s3cret@127.0.0.1:1/lemof"


@pytest.fixture
def db(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'reviews.db'}"
    monkeypatch.setenv("LEMOF_DATABASE_URL", url)
    monkeypatch.setenv("LEMOF_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    return url


@pytest.fixture(scope="module")
def stay(default_cohort) -> int:
    stays = open_bundle(default_cohort).stays
    return int(stays.loc[(stays["split"] == "test") & stays["has_signal"], "stay_id"].iloc[1])


def _case(stay: int) -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=TIMEOUT)
    at.query_params["stay"] = str(stay)
    return at.run()


def _by_key(widgets, prefix: str):
    return [w for w in widgets if str(w.key).startswith(prefix)][0]


def _save(at: AppTest) -> AppTest:
    [b for b in at.button if b.label == "Save review"][0].click()
    return at.run()


def test_an_unreachable_database_keeps_what_was_typed_then_saves(default_cohort, db, stay, monkeypatch):
    monkeypatch.setenv("LEMOF_DATABASE_URL", UNREACHABLE)
    at = _case(stay)
    no_failures(at)
    warning = " ".join(w.value for w in at.warning)
    assert "cannot be read now" in warning and "127.0.0.1" in warning and "s3cret" not in warning
    _by_key(at.radio, "review_verdict:").set_value("disagree")
    _by_key(at.number_input, "review_estimate:").set_value(9.5)
    _by_key(at.text_area, "review_note:").input("Sepsis source not yet controlled; expect a longer stay.")
    at = _save(at)
    errors = " ".join(e.value for e in at.error)
    assert "Your review was not saved" in errors and "What you typed is kept" in errors and "s3cret" not in errors
    assert _by_key(at.text_area, "review_note:").value == "Sepsis source not yet controlled; expect a longer stay."
    assert _by_key(at.radio, "review_verdict:").value == "disagree"
    # the database is back: the same form saves what was typed
    monkeypatch.setenv("LEMOF_DATABASE_URL", db)
    at = _save(at)
    no_failures(at)
    assert any("Your review: Disagree" in m.value for m in at.markdown)
    saved = ReviewStore(db).reviews()
    assert len(saved) == 1 and saved["verdict"][0] == "disagree" and saved["estimate_days"][0] == pytest.approx(9.5)
    assert saved["note"][0] == "Sepsis source not yet controlled; expect a longer stay."


def test_a_save_shows_in_the_worklist_and_on_the_model_page(default_cohort, db, stay):
    at = _case(stay)
    _by_key(at.radio, "review_verdict:").set_value("agree")
    _by_key(at.radio, "review_rating_drivers:").set_value("useful")
    at = _save(at)
    no_failures(at)
    assert any("Your review: Agree" in m.value for m in at.markdown)
    # an edit is version 2, with its history
    _by_key(at.radio, "review_verdict:").set_value("partly")
    at = _save(at)
    assert any("Your review: Partly agree" in m.value and "(version 2)" in m.value for m in at.markdown)
    at.switch_page("pages/worklist.py").run()
    no_failures(at)
    assert any("1 reviewed by you" in m.value for m in at.markdown)
    at.switch_page("pages/model_card.py").run()
    no_failures(at)
    text = " ".join(m.value for m in at.markdown)
    assert "**1 review** of 1 stay by 1 reviewer" in text


def test_a_viewer_sees_only_their_own_reviews(default_cohort, db, stay, monkeypatch):
    """Another reviewer's note is not shown to a viewer; a trainer (the local user) sees it."""
    from lemof import load_run
    from lemof.reviews import ReviewKey
    from testkit.paths import SHIPPED_RUN

    bundle = open_bundle(default_cohort)
    run = load_run(SHIPPED_RUN)
    key = ReviewKey(run.run_id, run.weights_sha256, "synthetic", bundle.fingerprint, stay)
    ReviewStore(db).save(key, "ana@hospital.org", "disagree", note="A colleague's private note")
    at = _case(stay)
    popover_text = " ".join(t.value for t in at.text)
    assert "A colleague's private note" in popover_text  # local mode: a trainer reads everyone's
    import ui.access as access_ui
    from lemof.deploy.access import Role

    real = access_ui.current

    def as_viewer():
        v = real()
        return access_ui.Visitor(v.user, Role.VIEWER, v.mode, v.session)

    monkeypatch.setattr(access_ui, "current", as_viewer)
    at = _case(stay)
    no_failures(at)
    assert "A colleague's private note" not in " ".join(t.value for t in at.text)


def test_next_stay_opens_the_first_stay_i_have_not_reviewed(default_cohort, db, stay):
    stays = open_bundle(default_cohort).stays
    test_ids = sorted(stays.loc[stays["split"] == "test", "stay_id"].astype(int))
    at = _case(test_ids[0])
    _by_key(at.radio, "review_verdict:").set_value("agree")
    at = _save(at)  # the first test stay is reviewed: the worklist's first unreviewed stay is the second
    [b for b in at.button if b.label == "Next stay"][0].click()
    at.run()
    no_failures(at)
    shown = at.query_params["stay"]
    assert int(shown[0] if isinstance(shown, list) else shown) == test_ids[1]
    assert any(m.value.startswith(f"##### Stay {test_ids[1]}") for m in at.markdown)
