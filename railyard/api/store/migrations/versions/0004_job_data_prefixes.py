"""Jobs carry the data prefixes of their submitter, for every process that opens their data to enforce.

NULL (every earlier job, and a service without tokens): no restriction, as before.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as jobs:
        jobs.add_column(sa.Column("data_prefixes", sa.JSON))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as jobs:
        jobs.drop_column("data_prefixes")
