"""A job's earlier attempts: each run of its trainer the infrastructure ended (pre-emption, a kill, a lost
process) and the dispatcher started again, as a JSON list on the job.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("attempts", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("jobs", "attempts")
