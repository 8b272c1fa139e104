"""The review database's tables at the newest schema revision (SQLAlchemy 2 declarative models).

The migrations (``lemof/reviews/migrations/versions``) create exactly these tables; the models are
what the store queries. Constraint names follow ``NAMING`` so a migration can name the same ones.

- ``reviews``: one current review per reviewer, model (weights' SHA-256), cohort (fingerprint)
  and stay; ``version`` counts its saves.
- ``review_revisions``: one row per save of a review: who, when, every field after the change
  (``snapshot``) and what changed (``changes``: field -> [old, new]; ``{}`` for the creation).
- ``assignments``: which stays of a cohort a trainer gave to which reviewer (revision 0002).
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

VERDICTS = ("agree", "partly", "disagree")
RATINGS = ("useful", "not_useful", "misleading")
EXPLANATIONS = ("drivers", "ecg", "similar")

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class UTCDateTime(sa.TypeDecorator):
    """A timezone-aware UTC time: stored as such on PostgreSQL; SQLite keeps no zone, so a value
    read back without one is UTC (every value written is converted to UTC first)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("a naive datetime cannot be stored: give it a time zone")
        return value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING)


class Review(Base):
    __tablename__ = "reviews"
    __table_args__ = (
        sa.UniqueConstraint("weights_sha256", "cohort_fingerprint", "stay_id", "reviewer"),
        sa.CheckConstraint(_in("verdict", VERDICTS), name="verdict"),
        *(sa.CheckConstraint(_in(f"rating_{e}", RATINGS), name=f"rating_{e}") for e in EXPLANATIONS),
        sa.Index(None, "cohort_fingerprint", "weights_sha256"),
        sa.Index(None, "stay_id"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(sa.String(255))
    weights_sha256: Mapped[str] = mapped_column(sa.String(64))
    cohort_key: Mapped[str] = mapped_column(sa.String(255))
    cohort_fingerprint: Mapped[str] = mapped_column(sa.String(128))
    stay_id: Mapped[int] = mapped_column(sa.BigInteger)
    reviewer: Mapped[str] = mapped_column(sa.String(320))
    verdict: Mapped[str] = mapped_column(sa.String(16))
    estimate_days: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    note: Mapped[str] = mapped_column(sa.Text, default="")
    predicted_los_days: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    rating_drivers: Mapped[str | None] = mapped_column(sa.String(16), nullable=True)
    rating_ecg: Mapped[str | None] = mapped_column(sa.String(16), nullable=True)
    rating_similar: Mapped[str | None] = mapped_column(sa.String(16), nullable=True)


class ReviewRevision(Base):
    __tablename__ = "review_revisions"
    __table_args__ = (sa.UniqueConstraint("review_id", "version"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    review_id: Mapped[int] = mapped_column(sa.ForeignKey("reviews.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(sa.Integer)
    changed_by: Mapped[str] = mapped_column(sa.String(320))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    snapshot: Mapped[dict] = mapped_column(sa.JSON)
    changes: Mapped[dict] = mapped_column(sa.JSON)


class Assignment(Base):
    __tablename__ = "assignments"
    __table_args__ = (
        sa.UniqueConstraint("cohort_fingerprint", "stay_id", "reviewer"),
        sa.Index(None, "cohort_fingerprint", "reviewer"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    cohort_key: Mapped[str] = mapped_column(sa.String(255))
    cohort_fingerprint: Mapped[str] = mapped_column(sa.String(128))
    stay_id: Mapped[int] = mapped_column(sa.BigInteger)
    reviewer: Mapped[str] = mapped_column(sa.String(320))
    assigned_by: Mapped[str] = mapped_column(sa.String(320))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime)
