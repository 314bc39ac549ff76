"""Jobs, transitions and idempotency keys.

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
        "jobs",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(128)),
        sa.Column("message", sa.Text),
        sa.Column("submitted_by", sa.String(256)),
        sa.Column("owner", sa.String(256), nullable=False),
        sa.Column("project", sa.String(256), nullable=False),
        sa.Column("trainer", sa.String(256), nullable=False),
        sa.Column("model_name", sa.String(512), nullable=False),
        sa.Column("workflow", sa.String(256), nullable=False),
        sa.Column("compute_resource", sa.String(32), nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("spec_hash", sa.String(64), nullable=False),
        sa.Column("binary", sa.String(1024), nullable=False),
        sa.Column("workflow_modules", sa.JSON, nullable=False),
        sa.Column("binary_sha256", sa.String(64)),
        sa.Column("git_commit", sa.String(64)),
        sa.Column("data_fingerprint", sa.JSON),
        sa.Column("output", sa.String(1024), nullable=False),
        sa.Column("model_id", sa.String(128)),
        sa.Column("exception_info", sa.JSON),
        sa.Column("dispatched_at", sa.DateTime(timezone=True)),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("shipped", sa.Boolean),
        sa.Column("shipped_by", sa.String(256)),
        sa.Column("shipped_at", sa.DateTime(timezone=True)),
    )
    for column in ("created_at", "state", "owner", "project", "model_name", "workflow"):
        op.create_index(f"ix_jobs_{column}", "jobs", [column])
    op.create_index("ix_jobs_state_created", "jobs", ["state", "created_at"])
    op.create_table(
        "transitions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.String(64), sa.ForeignKey("jobs.id"), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(128)),
        sa.Column("actor", sa.String(256)),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_transitions_job_id", "transitions", ["job_id"])
    op.create_table(
        "idempotency_keys",
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("principal", sa.String(256), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=False),
        sa.Column("response", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])


def downgrade() -> None:
    op.drop_table("idempotency_keys")
    op.drop_table("transitions")
    op.drop_table("jobs")
