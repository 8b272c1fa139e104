"""Per-explanation ratings on a review; stays assigned to reviewers.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

EXPLANATIONS = ("drivers", "ecg", "similar")


def upgrade() -> None:
    # batch: on SQLite the table is rebuilt (it cannot add a CHECK constraint in place); elsewhere plain ALTERs
    with op.batch_alter_table("reviews") as batch:
        for e in EXPLANATIONS:
            batch.add_column(sa.Column(f"rating_{e}", sa.String(16), nullable=True))
            batch.create_check_constraint(f"ck_reviews_rating_{e}", f"rating_{e} IN ('useful', 'not_useful', 'misleading')")
    op.create_table(
        "assignments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("cohort_key", sa.String(255), nullable=False),
        sa.Column("cohort_fingerprint", sa.String(128), nullable=False),
        sa.Column("stay_id", sa.BigInteger, nullable=False),
        sa.Column("reviewer", sa.String(320), nullable=False),
        sa.Column("assigned_by", sa.String(320), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_assignments"),
        sa.UniqueConstraint("cohort_fingerprint", "stay_id", "reviewer", name="uq_assignments_cohort_fingerprint_stay_id_reviewer"),
    )
    op.create_index("ix_assignments_cohort_fingerprint_reviewer", "assignments", ["cohort_fingerprint", "reviewer"])


def downgrade() -> None:
    op.drop_index("ix_assignments_cohort_fingerprint_reviewer", table_name="assignments")
    op.drop_table("assignments")
    with op.batch_alter_table("reviews") as batch:
        for e in EXPLANATIONS:
            batch.drop_constraint(f"ck_reviews_rating_{e}", type_="check")
            batch.drop_column(f"rating_{e}")
