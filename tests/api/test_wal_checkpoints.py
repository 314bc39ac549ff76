"""The service's SQLite log is copied into the database by a thread of its own: no commit (a submit) copies it,
what the commits wrote reaches the database file within the checkpoint interval, whole, and the log stays bounded
under a stream of commits that never pauses."""

import sqlite3
import threading
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

    checkpoints = WalCheckpoints(engine, threading.Lock(), seconds=0.05)
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


def log_after_steady_commits(tmp_path, restart_frames: int, seconds: float = 3) -> tuple[int, int]:
    """(the log file's size in pages, the pages committed) after `seconds` of commits, back to back as a busy
    service's submits come, each under the write lock."""
    db, lock, stop = tmp_path / "store.db", threading.Lock(), threading.Event()
    engine = make_engine(str(db), background_checkpoints=True)
    write_rows(engine, 1)
    committed = []

    def submits():
        with engine.connect() as connection:
            while not stop.is_set():
                with lock:
                    connection.execute(text("INSERT INTO t (payload) VALUES (:p)"), {"p": "x" * 4000})
                    connection.commit()
                committed.append(1)

    checkpoints = WalCheckpoints(engine, lock, seconds=0.05, restart_frames=restart_frames)
    checkpoints.start()
    writer = threading.Thread(target=submits)
    writer.start()
    time.sleep(seconds)
    stop.set()
    writer.join()
    pages = (tmp_path / "store.db-wal").stat().st_size // 4096
    checkpoints.stop()
    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT count(*) FROM t").fetchone()[0] == len(committed) + 1
    engine.dispose()
    return pages, 2 * len(committed)  # a row of 4,000 bytes: its page and the table's


def test_the_log_starts_over_under_commits_that_never_pause(tmp_path):
    pages, committed = log_after_steady_commits(tmp_path / "bounded", restart_frames=500)
    assert committed > 5000, "the machine committed too little to tell"
    assert pages < committed // 4, f"the log grew to {pages} pages over {committed} committed"


def test_without_a_restart_the_log_grows_with_every_commit(tmp_path):
    """What the restart is for: passive checkpoints alone never catch up with a stream of commits."""
    pages, committed = log_after_steady_commits(tmp_path / "unbounded", restart_frames=10**9)
    assert pages > committed // 2
