"""What a complete run measured of itself, for sizing the model's next runs: its peak resident memory and the
rows it loaded.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("peak_memory_bytes", sa.BigInteger(), nullable=True))
    op.add_column("jobs", sa.Column("rows_loaded", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column("jobs", "rows_loaded")
    op.drop_column("jobs", "peak_memory_bytes")
