"""The service's SQLite log is copied into the database by a thread of its own: no commit (a submit) copies it, and
what the commits wrote reaches the database file within the checkpoint interval, whole."""

import sqlite3
import time

from sqlalchemy import text

from railyard.api.store.db import WalCheckpoints, make_engine


def write_rows(engine, commits: int) -> None:
    with engine.connect() as connection:
        connection.execute(text("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, payload TEXT)"))
        connection.commit()
        for i in range(commits):
            connection.execute(text("INSERT INTO t (payload) VALUES (:p)"), {"p": "x" * 4000})
            connection.commit()


def test_commits_leave_the_log_to_the_checkpoint_thread(tmp_path):
    db = tmp_path / "store.db"
    engine = make_engine(str(db), background_checkpoints=True)
    write_rows(engine, 1500)  # past SQLite's own threshold of 1,000 pages, which would have copied them at a commit
    wal = tmp_path / "store.db-wal"
    assert wal.stat().st_size > 1000 * 4096
    assert db.stat().st_size < 100 * 4096, "a commit copied the log into the database"

    checkpoints = WalCheckpoints(engine, seconds=0.05)
    checkpoints.start()
    deadline = time.monotonic() + 10
    while db.stat().st_size < 1500 * 4000 and time.monotonic() < deadline:
        time.sleep(0.05)
    checkpoints.stop()
    checkpoints.start()  # a lifespan that runs again starts it again
    checkpoints.stop()
    engine.dispose()
    assert db.stat().st_size >= 1500 * 4000
    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT count(*) FROM t").fetchone()[0] == 1500


def test_without_background_checkpoints_sqlite_checkpoints_at_commits(tmp_path):
    db = tmp_path / "store.db"
    engine = make_engine(str(db))
    write_rows(engine, 1500)
    assert db.stat().st_size >= 900 * 4096  # SQLite copied the log itself when it crossed 1,000 pages
    engine.dispose()
