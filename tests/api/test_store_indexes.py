"""The job store's indexes: the migrations build exactly what the models declare, on SQLite and on PostgreSQL, and
the count every submit makes (an owner's queued jobs, for the cap) reads one index alone, however many jobs are stored."""

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, text

from railyard.api.store import service
from railyard.api.store.db import MIGRATIONS, make_engine, migrate
from railyard.api.store.models import Base


def indexes(engine, table: str) -> dict[str, tuple[str, ...]]:
    return {index["name"]: tuple(index["column_names"]) for index in inspect(engine).get_indexes(table)}


def declared(table: str) -> dict[str, tuple[str, ...]]:
    return {index.name: tuple(column.name for column in index.columns) for index in Base.metadata.tables[table].indexes}


def test_a_migrated_store_has_the_indexes_the_models_declare(db_url):
    engine = make_engine(db_url)
    migrate(engine)
    for table in Base.metadata.tables:
        assert indexes(engine, table) == declared(table), table
    assert declared("jobs")["ix_jobs_owner_state"] == ("owner", "state")
    engine.dispose()


def to_revision(engine, revision: str, step=command.upgrade) -> None:
    """Alembic's upgrade (or `step=command.downgrade`) of the store to `revision`."""
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        step(config, revision)


def test_a_0004_store_upgrades_to_the_owner_state_index_and_back(db_url):
    engine = make_engine(db_url)
    to_revision(engine, "0004")
    assert {"ix_jobs_owner", "ix_jobs_state"} <= set(indexes(engine, "jobs"))
    migrate(engine)
    assert indexes(engine, "jobs") == declared("jobs")
    to_revision(engine, "0004", step=command.downgrade)
    assert {"ix_jobs_owner", "ix_jobs_state"} <= set(indexes(engine, "jobs")) and "ix_jobs_owner_state" not in indexes(engine, "jobs")
    engine.dispose()


def test_the_queued_count_of_a_submit_reads_the_owner_state_index_alone(tmp_path):
    engine = make_engine(str(tmp_path / "railyard.db"))
    migrate(engine)
    counted = service._COUNT_QUEUED.params(owner="alice", up_to=500).compile(engine, compile_kwargs={"literal_binds": True})
    with engine.connect() as connection:
        plan = " ".join(row[-1] for row in connection.execute(text(f"EXPLAIN QUERY PLAN {counted}")))
    assert "COVERING INDEX ix_jobs_owner_state" in plan, plan
    engine.dispose()
