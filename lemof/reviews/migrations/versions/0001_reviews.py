"""The first schema: reviews and their revisions.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.String(255), nullable=False),
        sa.Column("weights_sha256", sa.String(64), nullable=False),
        sa.Column("cohort_key", sa.String(255), nullable=False),
        sa.Column("cohort_fingerprint", sa.String(128), nullable=False),
        sa.Column("stay_id", sa.BigInteger, nullable=False),
        sa.Column("reviewer", sa.String(320), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("estimate_days", sa.Float, nullable=True),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("predicted_los_days", sa.Float, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.PrimaryKeyConstraint("id", name="pk_reviews"),
        sa.UniqueConstraint("weights_sha256", "cohort_fingerprint", "stay_id", "reviewer",
                            name="uq_reviews_weights_sha256_cohort_fingerprint_stay_id_reviewer"),
        sa.CheckConstraint("verdict IN ('agree', 'partly', 'disagree')", name="ck_reviews_verdict"),
    )
    op.create_index("ix_reviews_cohort_fingerprint_weights_sha256", "reviews", ["cohort_fingerprint", "weights_sha256"])
    op.create_index("ix_reviews_stay_id", "reviews", ["stay_id"])
    op.create_table(
        "review_revisions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("review_id", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("changed_by", sa.String(320), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("snapshot", sa.JSON, nullable=False),
        sa.Column("changes", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_review_revisions"),
        sa.ForeignKeyConstraint(["review_id"], ["reviews.id"], ondelete="CASCADE", name="fk_review_revisions_review_id_reviews"),
        sa.UniqueConstraint("review_id", "version", name="uq_review_revisions_review_id_version"),
    )


def downgrade() -> None:
    op.drop_table("review_revisions")
    op.drop_table("reviews")
