"""Lists at any number of jobs: each complete job's metrics in a table of their own, indexed for sorting by a
metric under each filter a list takes; every model name once, for a search by substring; jobs by model name
newest first. Existing jobs' recorded metrics and model names are copied in.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_metrics",
        sa.Column("job_id", sa.String(64), sa.ForeignKey("jobs.id"), primary_key=True),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("owner", sa.String(256), nullable=False),
        sa.Column("model_name", sa.String(512), nullable=False),
        sa.Column("sweep_id", sa.String(64), nullable=True),
    )
    op.create_table("model_names", sa.Column("model_name", sa.String(512), primary_key=True))
    op.execute("INSERT INTO model_names (model_name) SELECT DISTINCT model_name FROM jobs")
    copy_recorded_metrics()
    op.create_index("ix_job_metrics_value", "job_metrics", ["name", "value", "job_id"])
    op.create_index("ix_job_metrics_owner_value", "job_metrics", ["name", "owner", "value", "job_id"])
    op.create_index("ix_job_metrics_model_value", "job_metrics", ["name", "model_name", "value", "job_id"])
    op.create_index("ix_job_metrics_sweep_value", "job_metrics", ["name", "sweep_id", "value", "job_id"])
    op.create_index("ix_jobs_model_created", "jobs", ["model_name", "created_at"])
    op.drop_index("ix_jobs_model_name", table_name="jobs")
    op.create_index("ix_jobs_owner_created", "jobs", ["owner", "created_at"])


def copy_recorded_metrics(batch: int = 10_000) -> None:
    """Each job's metrics recorded before this table, copied in as its rows."""
    connection = op.get_bind()
    jobs = sa.table("jobs", sa.column("id"), sa.column("metrics", sa.JSON), sa.column("owner"), sa.column("model_name"),
                    sa.column("sweep_id"))
    metrics = sa.table("job_metrics", sa.column("job_id"), sa.column("name"), sa.column("value"), sa.column("owner"),
                       sa.column("model_name"), sa.column("sweep_id"))
    after = ""
    while True:
        rows = connection.execute(sa.select(jobs).where(jobs.c.metrics.is_not(None), jobs.c.id > after)
                                  .order_by(jobs.c.id).limit(batch)).all()
        if not rows:
            return
        values = [{"job_id": row.id, "name": name, "value": float(value), "owner": row.owner, "model_name": row.model_name,
                   "sweep_id": row.sweep_id} for row in rows if isinstance(row.metrics, dict)
                  for name, value in row.metrics.items() if name != "kind" and isinstance(value, (int, float)) and not isinstance(value, bool)]
        if values:
            connection.execute(metrics.insert(), values)
        after = rows[-1].id


def downgrade() -> None:
    op.drop_index("ix_jobs_owner_created", table_name="jobs")
    op.create_index("ix_jobs_model_name", "jobs", ["model_name"])
    op.drop_index("ix_jobs_model_created", table_name="jobs")
    op.drop_table("model_names")
    op.drop_table("job_metrics")
