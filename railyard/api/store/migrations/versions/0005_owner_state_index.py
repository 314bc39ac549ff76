"""An owner's queued jobs are counted from one index, (owner, state), which replaces the index on owner alone;
the index on state alone goes, as (state, created_at) serves every lookup by state.

Every POST /train and /explain counts its owner's queued jobs (the queued-jobs cap); with the state in the
index the count reads the index alone, never the rows, however long the owner's history. Each job written
updates one index fewer.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_jobs_owner_state", "jobs", ["owner", "state"])
    op.drop_index("ix_jobs_owner", "jobs")
    op.drop_index("ix_jobs_state", "jobs")


def downgrade() -> None:
    op.create_index("ix_jobs_state", "jobs", ["state"])
    op.create_index("ix_jobs_owner", "jobs", ["owner"])
    op.drop_index("ix_jobs_owner_state", "jobs")
