"""Sweeps, and each trial job's sweep and trial number.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sweeps",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("submitted_by", sa.String(256), nullable=False),
        sa.Column("owner", sa.String(256), nullable=False),
        sa.Column("model_name", sa.String(512), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("space", sa.JSON(), nullable=False),
        sa.Column("binary", sa.String(1024), nullable=False),
        sa.Column("binary_sha256", sa.String(64), nullable=True),
        sa.Column("git_commit", sa.String(64), nullable=True),
        sa.Column("workflow_modules", sa.JSON(), nullable=False),
        sa.Column("data_prefixes", sa.JSON(), nullable=True),
        sa.Column("metric", sa.String(64), nullable=False),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.Column("trials", sa.Integer(), nullable=False),
        sa.Column("parallel", sa.Integer(), nullable=False),
        sa.Column("sampler", sa.String(16), nullable=False),
        sa.Column("pruner", sa.String(16), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("best_job_id", sa.String(64), nullable=True),
        sa.Column("best_value", sa.Float(), nullable=True),
    )
    op.create_index("ix_sweeps_created_at", "sweeps", ["created_at"])
    op.create_index("ix_sweeps_owner", "sweeps", ["owner"])
    op.add_column("jobs", sa.Column("sweep_id", sa.String(64), nullable=True))
    op.add_column("jobs", sa.Column("trial_number", sa.Integer(), nullable=True))
    op.create_index("ix_jobs_sweep_trial", "jobs", ["sweep_id", "trial_number"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_jobs_sweep_trial", table_name="jobs")
    with op.batch_alter_table("jobs") as jobs:
        jobs.drop_column("trial_number")
        jobs.drop_column("sweep_id")
    op.drop_index("ix_sweeps_owner", table_name="sweeps")
    op.drop_index("ix_sweeps_created_at", table_name="sweeps")
    op.drop_table("sweeps")
