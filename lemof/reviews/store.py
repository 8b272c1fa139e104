"""``ReviewStore``: the clinicians' reviews of stays, read and written in transactions.

A review is bound to the model (the weights' SHA-256), the cohort (its fingerprint) and the stay,
and belongs to one reviewer: saving again updates that reviewer's review (``version`` + 1) and adds
one row to its history; a new model starts with no verdicts. Text is stored exactly as typed:
escaping happens where it is shown (the page, the CSV export).

Every write takes an optional ``audit`` callable, ``audit(event, **fields)``, called inside the
transaction once the change is flushed and before it commits: an audit that fails rolls the change
back, and a commit that fails after the entry was written adds a ``*_failed`` entry naming the reason.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from lemof.errors import ConfigError
from lemof.reviews.engine import ReviewDatabaseError, default_url, display, engine, sqlite_file, translated, write_lock
from lemof.reviews.migrate import current, require_head, upgrade as upgrade_schema
from lemof.reviews.schema import EXPLANATIONS, RATINGS, VERDICTS, Assignment, Review, ReviewRevision, utc_now

Audit = Callable[..., None]  # audit(event: str, **fields); raises (lemof.audit.AuditError) when it cannot write

MAX_NOTE = 4000
MAX_ESTIMATE_DAYS = 365.0
EDITABLE = ("verdict", "estimate_days", *(f"rating_{e}" for e in EXPLANATIONS), "note")  # what a reviewer changes
EXPORT_COLUMNS = ("stay_id", "run", "weights_sha256", "cohort", "cohort_fingerprint", "user", "verdict", "estimate_days",
                  "rating_drivers", "rating_ecg", "rating_similar", "note", "predicted_los_days", "created_at", "updated_at", "version")
STATUS_COLUMNS = ("stay_id", "mine", "my_verdict", "others", "other_models", "assigned_to_me", "assignees")
_RETRIES = 5

_ready: set[str] = set()  # URLs checked (or migrated) at head in this process
_ready_lock = threading.Lock()


@dataclass(frozen=True)
class ReviewKey:
    """What a review is about: the run (its directory name and weights' SHA-256), the cohort (key
    and fingerprint) and the stay."""

    run_id: str
    weights_sha256: str
    cohort_key: str
    cohort_fingerprint: str
    stay_id: int


@dataclass(frozen=True)
class ReviewRecord:
    id: int
    run_id: str
    weights_sha256: str
    cohort_key: str
    cohort_fingerprint: str
    stay_id: int
    reviewer: str
    verdict: str
    estimate_days: float | None
    ratings: dict[str, str]  # explanation -> rating, only the rated ones
    note: str
    predicted_los_days: float | None
    created_at: datetime
    updated_at: datetime
    version: int

    def to_dict(self) -> dict:
        return {**{k: getattr(self, k) for k in self.__dataclass_fields__}, "created_at": self.created_at.isoformat(),
                "updated_at": self.updated_at.isoformat()}


@dataclass(frozen=True)
class Revision:
    """One save of a review: its version after the save, who and when, and field -> [old, new] ({} for the creation)."""

    version: int
    changed_by: str
    changed_at: datetime
    changes: dict[str, list]


def _record(row: Review) -> ReviewRecord:
    ratings = {e: getattr(row, f"rating_{e}") for e in EXPLANATIONS if getattr(row, f"rating_{e}") is not None}
    return ReviewRecord(id=row.id, run_id=row.run_id, weights_sha256=row.weights_sha256, cohort_key=row.cohort_key,
                        cohort_fingerprint=row.cohort_fingerprint, stay_id=int(row.stay_id), reviewer=row.reviewer, verdict=row.verdict,
                        estimate_days=row.estimate_days, ratings=ratings, note=row.note, predicted_los_days=row.predicted_los_days,
                        created_at=row.created_at, updated_at=row.updated_at, version=row.version)


def _snapshot(row: Review) -> dict:
    return {"run_id": row.run_id, "weights_sha256": row.weights_sha256, "cohort_key": row.cohort_key, "cohort_fingerprint": row.cohort_fingerprint,
            "stay_id": int(row.stay_id), "reviewer": row.reviewer, **{f: getattr(row, f) for f in EDITABLE},
            "predicted_los_days": row.predicted_los_days, "version": row.version}


def reviewer_id(reviewer: str) -> str:
    """A reviewer's identity as stored: trimmed, lower-cased (e-mail addresses differ only in case)."""
    text = str(reviewer or "").strip().lower()
    if not text or "\x00" in text:
        raise ConfigError("the reviewer is empty: a review needs the signed-in user's identity")
    if len(text) > 320:
        raise ConfigError(f"the reviewer identity is {len(text)} characters; at most 320")
    return text


def _values(verdict: str, estimate_days: float | None, ratings: dict[str, str] | None, note: str) -> dict:
    """The editable fields of a review, validated (``ConfigError`` naming the field and what is allowed)."""
    if verdict not in VERDICTS:
        raise ConfigError(f"verdict {str(verdict)[:40]!r} is not one of {', '.join(VERDICTS)}")
    if estimate_days is not None:
        try:
            estimate_days = float(estimate_days)
        except (TypeError, ValueError):
            raise ConfigError(f"estimate_days {str(estimate_days)[:40]!r} is not a number of days") from None
        if not math.isfinite(estimate_days) or not 0 <= estimate_days <= MAX_ESTIMATE_DAYS:
            raise ConfigError(f"estimate_days must be a number of days from 0 to {MAX_ESTIMATE_DAYS:g}; got {estimate_days!r}")
    ratings = dict(ratings or {})
    for name, rating in ratings.items():
        if name not in EXPLANATIONS:
            raise ConfigError(f"explanation {str(name)[:40]!r} cannot be rated: one of {', '.join(EXPLANATIONS)}")
        if rating is not None and rating not in RATINGS:
            raise ConfigError(f"rating {str(rating)[:40]!r} of {name} is not one of {', '.join(RATINGS)}")
    note = "" if note is None else note
    if not isinstance(note, str):
        raise ConfigError("the note must be text")
    if "\x00" in note:
        raise ConfigError("the note contains a NUL character, which a database text cannot hold")
    if len(note) > MAX_NOTE:
        raise ConfigError(f"the note is {len(note)} characters; at most {MAX_NOTE}")
    return {"verdict": verdict, "estimate_days": estimate_days, **{f"rating_{e}": ratings.get(e) for e in EXPLANATIONS}, "note": note}


def _check_key(key: ReviewKey) -> None:
    """The key's text fits its columns (a run or cohort name is the operator's; the rest are hashes)."""
    for name, limit in (("run_id", 255), ("cohort_key", 255), ("cohort_fingerprint", 128), ("weights_sha256", 64)):
        value = getattr(key, name)
        if not isinstance(value, str) or not value or len(value) > limit or "\x00" in value:
            raise ConfigError(f"the review's {name} must be 1 to {limit} characters of text; got {str(value)[:40]!r}")


def _stays(stay_ids) -> list[int]:
    try:
        return sorted({int(s) for s in stay_ids})
    except (TypeError, ValueError):
        raise ConfigError("stay ids must be whole numbers") from None


def _frame(rows: list, columns: list[str]) -> pd.DataFrame:
    """A table from result rows, column by column (much faster than row objects one by one)."""
    values = list(zip(*rows)) if rows else [()] * len(columns)
    return pd.DataFrame({c: list(v) for c, v in zip(columns, values)}, columns=columns)


class ReviewStore:
    """The reviews in the database at ``url`` (default ``default_url()``).

    ``upgrade``: None creates or migrates a SQLite file's schema on first use (the embedded
    default) and only checks any other database, which ``python -m lemof db upgrade`` migrates
    (``ReviewDatabaseError`` if it is not at the newest revision). The engine is shared per URL
    in the process; a store is cheap to create."""

    def __init__(self, url: str | None = None, *, upgrade: bool | None = None) -> None:
        self.url = url or default_url()
        self.url_display = display(self.url)
        self.engine = engine(self.url)
        if upgrade is None:
            upgrade = sqlite_file(self.url) is not None
        with _ready_lock:
            if self.url not in _ready:
                if upgrade:
                    upgrade_schema(self.url)
                else:
                    require_head(self.url)
                _ready.add(self.url)

    # -- reading ---------------------------------------------------------------------------
    def _read(self) -> "_ReadSession":
        return _ReadSession(self)

    def reviews_of_stay(self, cohort_fingerprint: str, stay_id: int, *, reviewer: str | None = None) -> list[ReviewRecord]:
        """Every review of the stay in the cohort, under any model, newest first (one reviewer's with ``reviewer``)."""
        query = sa.select(Review).where(Review.cohort_fingerprint == cohort_fingerprint, Review.stay_id == int(stay_id))
        if reviewer is not None:
            query = query.where(Review.reviewer == reviewer_id(reviewer))
        with self._read() as s:
            return [_record(r) for r in s.scalars(query.order_by(Review.updated_at.desc(), Review.id.desc()))]

    def history(self, review_id: int) -> list[Revision]:
        """The saves of one review, oldest first."""
        query = sa.select(ReviewRevision).where(ReviewRevision.review_id == int(review_id)).order_by(ReviewRevision.version)
        with self._read() as s:
            return [Revision(version=r.version, changed_by=r.changed_by, changed_at=r.changed_at, changes=dict(r.changes)) for r in s.scalars(query)]

    def status(self, cohort_fingerprint: str, weights_sha256: str, reviewer: str) -> pd.DataFrame:
        """The review status of the cohort's stays for ``reviewer`` under the model ``weights_sha256``:
        one row per stay with any review (any model) or assignment, sorted by stay (``STATUS_COLUMNS``).
        ``mine``: I reviewed it under this model; ``others``: other reviewers' reviews under this model;
        ``other_models``: reviews of the stay under other models; ``assignees``: comma-separated."""
        me = reviewer_id(reviewer)
        this_model = Review.weights_sha256 == weights_sha256
        mine = sa.and_(this_model, Review.reviewer == me)
        reviewed = (sa.select(Review.stay_id,
                              sa.func.max(sa.case((mine, 1), else_=0)).label("mine"),
                              sa.func.max(sa.case((mine, Review.verdict), else_=None)).label("my_verdict"),
                              sa.func.sum(sa.case((sa.and_(this_model, Review.reviewer != me), 1), else_=0)).label("others"),
                              sa.func.sum(sa.case((this_model, 0), else_=1)).label("other_models"))
                    .where(Review.cohort_fingerprint == cohort_fingerprint).group_by(Review.stay_id))
        assigned = (sa.select(Assignment.stay_id,
                              sa.func.max(sa.case((Assignment.reviewer == me, 1), else_=0)).label("assigned_to_me"),
                              sa.func.aggregate_strings(Assignment.reviewer, ",").label("assignees"))
                    .where(Assignment.cohort_fingerprint == cohort_fingerprint).group_by(Assignment.stay_id))
        with self._read() as s:
            conn = s.connection()  # plain rows, not ORM loading: 20,000 stays in a fraction of a second
            left = _frame(conn.execute(reviewed).all(), ["stay_id", "mine", "my_verdict", "others", "other_models"])
            right = _frame(conn.execute(assigned).all(), ["stay_id", "assigned_to_me", "assignees"])
        table = left.merge(right, on="stay_id", how="outer").sort_values("stay_id", kind="stable").reset_index(drop=True)
        names = [a if isinstance(a, str) else "" for a in table["assignees"].astype(object).tolist()]  # "" where none (NaN after the merge)
        out = pd.DataFrame({
            "stay_id": table["stay_id"].astype("int64"),
            "mine": table["mine"].fillna(0).astype(int).astype(bool),
            "my_verdict": table["my_verdict"].astype(object).where(table["my_verdict"].notna(), None),
            "others": table["others"].fillna(0).astype("int64"),
            "other_models": table["other_models"].fillna(0).astype("int64"),
            "assigned_to_me": table["assigned_to_me"].fillna(0).astype(int).astype(bool),
            "assignees": [",".join(sorted(a.split(","))) if "," in a else a for a in names],
        }, columns=list(STATUS_COLUMNS))
        return out

    def reviews(self, *, since: datetime | None = None, cohort_fingerprint: str | None = None, weights_sha256: str | None = None) -> pd.DataFrame:
        """Every current review (optionally changed at or after ``since``, of one cohort or model) for
        export and analysis, in ``EXPORT_COLUMNS`` order, oldest change first."""
        query = sa.select(Review)
        if since is not None:
            if since.tzinfo is None:
                raise ConfigError("since must carry a time zone (UTC)")
            query = query.where(Review.updated_at >= since)
        if cohort_fingerprint is not None:
            query = query.where(Review.cohort_fingerprint == cohort_fingerprint)
        if weights_sha256 is not None:
            query = query.where(Review.weights_sha256 == weights_sha256)
        with self._read() as s:
            rows = [(int(r.stay_id), r.run_id, r.weights_sha256, r.cohort_key, r.cohort_fingerprint, r.reviewer, r.verdict, r.estimate_days,
                     r.rating_drivers, r.rating_ecg, r.rating_similar, r.note, r.predicted_los_days, r.created_at, r.updated_at, r.version)
                    for r in s.scalars(query.order_by(Review.updated_at, Review.id))]
        table = pd.DataFrame(rows, columns=list(EXPORT_COLUMNS))
        for column in ("estimate_days", "predicted_los_days"):
            table[column] = table[column].astype("float64")
        for column in ("created_at", "updated_at"):
            table[column] = pd.to_datetime(table[column], utc=True)
        return table

    def schema_version(self) -> str | None:
        return current(self.url)

    # -- writing ---------------------------------------------------------------------------
    def save(self, key: ReviewKey, reviewer: str, verdict: str, *, estimate_days: float | None = None, ratings: dict[str, str] | None = None,
             note: str = "", predicted_los_days: float | None = None, audit: Audit | None = None) -> ReviewRecord:
        """Save ``reviewer``'s review of ``key``: the whole form (``ratings`` left out are unrated).
        Creates it, or updates that reviewer's review of the key (version + 1); either way one
        history row and one audit entry, in one transaction. A save that changes nothing writes
        nothing and returns the stored review. ``ConfigError`` for an invalid field, ``ReviewDatabaseError``
        if the database cannot be reached or the change does not commit."""
        me = reviewer_id(reviewer)
        _check_key(key)
        values = _values(verdict, estimate_days, ratings, note)
        if predicted_los_days is not None and not math.isfinite(float(predicted_los_days)):
            predicted_los_days = None
        where = (Review.weights_sha256 == key.weights_sha256, Review.cohort_fingerprint == key.cohort_fingerprint,
                 Review.stay_id == int(key.stay_id), Review.reviewer == me)
        for attempt in range(_RETRIES):
            with write_lock(self.url), translated(self.url, "the review was not saved"), Session(self.engine, expire_on_commit=False) as s:
                s.begin()
                row = s.scalars(sa.select(Review).where(*where).with_for_update()).one_or_none()
                now = utc_now()
                if row is None:
                    row = Review(run_id=key.run_id, weights_sha256=key.weights_sha256, cohort_key=key.cohort_key,
                                 cohort_fingerprint=key.cohort_fingerprint, stay_id=int(key.stay_id), reviewer=me, **values,
                                 predicted_los_days=predicted_los_days, created_at=now, updated_at=now, version=1)
                    s.add(row)
                    changes: dict = {}
                    try:
                        s.flush()
                    except sa.exc.IntegrityError as exc:  # the same reviewer's first save of this key, committed meanwhile: update it
                        s.rollback()
                        if attempt + 1 < _RETRIES:
                            continue
                        raise ReviewDatabaseError(f"the review could not be saved in {self.url_display}: another save of it kept winning") from exc
                else:
                    changes = {f: [getattr(row, f), v] for f, v in values.items() if getattr(row, f) != v}
                    if not changes:
                        unchanged = _record(row)  # before the rollback expires the row
                        s.rollback()
                        return unchanged
                    for f, v in values.items():
                        setattr(row, f, v)
                    row.run_id, row.cohort_key, row.updated_at, row.version = key.run_id, key.cohort_key, now, row.version + 1
                    if predicted_los_days is not None:
                        row.predicted_los_days = predicted_los_days
                s.add(ReviewRevision(review_id=row.id, version=row.version, changed_by=me, changed_at=now, snapshot=_snapshot(row), changes=changes))
                s.flush()
                fields = dict(cohort=key.cohort_key, run=key.run_id, stay=int(key.stay_id), review_id=row.id, version=row.version, verdict=row.verdict)
                self._commit(s, audit, "review.save", fields, "the review was not saved")
                return _record(row)
        raise AssertionError("unreachable")  # pragma: no cover

    def assign(self, cohort_key: str, cohort_fingerprint: str, stay_ids: list[int], reviewer: str, *, assigned_by: str,
               audit: Audit | None = None) -> int:
        """Assign the stays to ``reviewer`` (those not yet assigned to them); returns how many are new.
        One audit entry ``review.assign`` for the batch (none when nothing is new)."""
        me, by, stays = reviewer_id(reviewer), reviewer_id(assigned_by), _stays(stay_ids)
        for attempt in range(_RETRIES):
            with write_lock(self.url), translated(self.url, "nothing was assigned"), Session(self.engine) as s:
                s.begin()
                have = set(s.scalars(sa.select(Assignment.stay_id).where(Assignment.cohort_fingerprint == cohort_fingerprint,
                                                                          Assignment.reviewer == me)))
                new = [sid for sid in stays if sid not in have]
                if not new:
                    s.rollback()
                    return 0
                now = utc_now()
                s.add_all([Assignment(cohort_key=cohort_key, cohort_fingerprint=cohort_fingerprint, stay_id=sid, reviewer=me,
                                      assigned_by=by, assigned_at=now) for sid in new])
                try:
                    s.flush()
                except sa.exc.IntegrityError as exc:  # assigned meanwhile by another session: count again
                    s.rollback()
                    if attempt + 1 < _RETRIES:
                        continue
                    raise ReviewDatabaseError(f"the stays could not be assigned in {self.url_display}: other sessions kept assigning them") from exc
                self._commit(s, audit, "review.assign", dict(cohort=cohort_key, reviewer=me, stays=new, n=len(new)), "nothing was assigned")
                return len(new)
        raise AssertionError("unreachable")  # pragma: no cover

    def unassign(self, cohort_fingerprint: str, stay_ids: list[int], reviewer: str, *, by: str, audit: Audit | None = None) -> int:
        """Take the stays back from ``reviewer``; returns how many assignments were removed (one
        audit entry ``review.unassign``, none when nothing was assigned)."""
        me, stays = reviewer_id(reviewer), _stays(stay_ids)
        reviewer_id(by)
        with write_lock(self.url), translated(self.url, "nothing was unassigned"), Session(self.engine) as s:
            s.begin()
            gone = list(s.scalars(sa.delete(Assignment).where(Assignment.cohort_fingerprint == cohort_fingerprint, Assignment.reviewer == me,
                                                               Assignment.stay_id.in_(stays)).returning(Assignment.stay_id)))
            if not gone:
                s.rollback()
                return 0
            self._commit(s, audit, "review.unassign", dict(reviewer=me, stays=sorted(int(g) for g in gone), n=len(gone), by=reviewer_id(by)),
                         "nothing was unassigned")
            return len(gone)

    def _commit(self, s: Session, audit: Audit | None, event: str, fields: dict, consequence: str) -> None:
        """Write the audit entry (its failure rolls back and propagates), then commit; a commit that
        fails after the entry adds ``<event>_failed`` with the reason and raises ``ReviewDatabaseError``."""
        if audit is not None:
            try:
                audit(event, **fields)
            except BaseException:
                s.rollback()
                raise
        try:
            s.commit()
        except sa.exc.SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if audit is not None:
                audit(f"{event}_failed", **fields, reason=reason)
            raise ReviewDatabaseError(f"the review database {self.url_display} did not commit ({reason}); {consequence}") from exc


class _ReadSession:
    """A read-only session on the store's engine whose driver errors become ``ReviewDatabaseError``."""

    def __init__(self, store: ReviewStore) -> None:
        self.store = store

    def __enter__(self) -> Session:
        self._translate = translated(self.store.url, "nothing could be read")
        self._translate.__enter__()
        self._session = Session(self.store.engine)
        return self._session

    def __exit__(self, *exc_info):
        self._session.close()
        return self._translate.__exit__(*exc_info)
