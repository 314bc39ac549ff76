"""Database connections: SQLite (WAL mode) by default, PostgreSQL by URL; schema by Alembic migrations."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from railyard.errors import UserError
from railyard.storage.local import FILE_MODE, private_dirs

# Package data (Alembic reads `package:dir` through importlib.resources): found in a pex or an installed wheel too.
MIGRATIONS = "railyard.api.store:migrations"
log = logging.getLogger(__name__)


def normalize_url(url: str) -> str:
    """postgresql:// → the psycopg 3 driver; a bare path → a SQLite file, made the service's user's alone
    (0600; SQLite gives its journal and WAL the database file's mode) when it does not exist yet."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if "://" not in url:
        private_dirs(Path(url).parent)
        os.close(os.open(url, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, FILE_MODE))
        return f"sqlite:///{Path(url).absolute()}"
    return url


def make_engine(url: str, *, background_checkpoints: bool = False) -> Engine:
    """An engine for `url`; on SQLite with `background_checkpoints`, no commit copies the write-ahead log into
    the database: a `WalCheckpoints` thread does."""
    url = normalize_url(url)
    if url.startswith("sqlite"):
        # Unbounded overflow: a checkout never waits, so a query on the event loop can never block the loop
        # while the connections it waits for are released only by the loop. SQLite connections are cheap: the pool
        # keeps as many as the thread pool runs queries at once (40), so that none is opened and closed per request.
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=40, max_overflow=-1)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection, _record):
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            if background_checkpoints:
                cursor.execute("PRAGMA wal_autocheckpoint=0")
            cursor.close()

        return engine
    return create_engine(url, pool_size=20, max_overflow=60, pool_timeout=10, pool_pre_ping=True)


def write_lock(engine: Engine):
    """SQLite takes one writer at a time and makes the others sleep and retry; queueing writers in
    the process instead keeps commit latency flat. Other databases need no such lock."""
    return threading.Lock() if engine.dialect.name == "sqlite" else contextlib.nullcontext()


class WalCheckpoints:
    """SQLite: a thread copies the write-ahead log into the database every `seconds`, so that no request does.

    Left to SQLite, the commit that takes the log past 1,000 pages copies them and syncs the file, and every
    submit queued behind the write lock waits for it. A passive checkpoint waits for no reader or writer;
    what it cannot copy yet, the next one does. Should the service stop, SQLite replays the log on opening.

    The log starts over from its beginning only when a write begins with all of it copied, which under a
    steady stream of submits never happens: it grew by 40 MB a second under load. So once it holds
    `restart_frames` pages, the thread copies the rest while holding the write lock (the pages of the
    moments since the passive pass: 15-25 ms), and the next write starts the log over."""

    def __init__(self, engine: Engine, write_lock: contextlib.AbstractContextManager, seconds: float = 1.0, restart_frames: int = 32768):
        self.engine = engine
        self.write_lock = write_lock
        self.seconds = seconds
        self.restart_frames = restart_frames
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (again, after `stop`: an application's lifespan may run more than once)."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(self._stop,), name="wal-checkpoints", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.checkpoint()

    def checkpoint(self) -> None:
        with self.engine.connect() as connection:
            _, frames, _ = connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()
            if frames >= self.restart_frames:
                with self.write_lock:
                    connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    def _run(self, stop: threading.Event) -> None:
        while not stop.wait(self.seconds):
            try:
                self.checkpoint()
            except Exception:  # the next turn tries again; the log only grows meanwhile
                log.exception("checkpointing the SQLite write-ahead log failed")


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def hold_single_replica(engine: Engine):
    """On SQLite, an exclusive lock beside the database file for as long as the returned file stays open;
    a second dispatching service on the same file is refused at start. Other databases take replicas: None."""
    if engine.dialect.name != "sqlite" or not engine.url.database:
        return None
    # the service's user's alone: anyone who could open it could take the lock and keep the service from starting
    handle = os.fdopen(os.open(f"{engine.url.database}.replica-lock", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise UserError(f"--db {engine.url.database}: another railyard serve is dispatching from this SQLite database; "
                        "SQLite serves one replica, use PostgreSQL (--db postgresql://…) for several") from None
    return handle
