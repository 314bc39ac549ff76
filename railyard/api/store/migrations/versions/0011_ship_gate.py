"""The ship gate: each model's ship policy, and each ship event's verdict and override reason.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ship_policies",
        sa.Column("owner", sa.String(256), primary_key=True),
        sa.Column("model_name", sa.String(512), primary_key=True),
        sa.Column("metric", sa.String(64), nullable=False),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.Column("min_gain", sa.Float(), nullable=False),
        sa.Column("same_holdout", sa.Boolean(), nullable=False),
        sa.Column("owner_may_override", sa.Boolean(), nullable=False),
        sa.Column("set_by", sa.String(256), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.add_column("ship_events", sa.Column("verdict", sa.Text(), nullable=True))
    op.add_column("ship_events", sa.Column("override_reason", sa.Text(), nullable=True))
    op.drop_index("ix_ship_events_model_at", table_name="ship_events")
    op.create_index("ix_ship_events_model_id", "ship_events", ["model_name", "id"])  # history pages by id


def downgrade() -> None:
    op.drop_index("ix_ship_events_model_id", table_name="ship_events")
    op.create_index("ix_ship_events_model_at", "ship_events", ["model_name", "at"])
    with op.batch_alter_table("ship_events") as batch:
        batch.drop_column("override_reason")
        batch.drop_column("verdict")
    op.drop_table("ship_policies")
