"""Job kinds: every job is `training` (all earlier ones) or `explanation`, which records what it explains.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as jobs:
        jobs.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="training"))
        jobs.add_column(sa.Column("explains_job_id", sa.String(64)))
        jobs.add_column(sa.Column("explanation", sa.JSON))
        jobs.create_index("ix_jobs_model_id", ["model_id"])


def downgrade() -> None:
    with op.batch_alter_table("jobs") as jobs:
        jobs.drop_index("ix_jobs_model_id")
        jobs.drop_column("explanation")
        jobs.drop_column("explains_job_id")
        jobs.drop_column("kind")
