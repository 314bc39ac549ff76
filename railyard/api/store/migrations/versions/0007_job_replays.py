"""A replay's link to the job it runs again (the same binary and spec), for the comparison of the two.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("replays_job_id", sa.String(64), nullable=True))


def downgrade() -> None:
    op.drop_column("jobs", "replays_job_id")
