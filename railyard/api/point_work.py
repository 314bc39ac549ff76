"""Where requests' point work on the database runs: reading one job, queueing one.

On SQLite the work runs in place, on the event loop. Each item is a fraction of
a millisecond of work on a file whose writers take turns anyway (db.write_lock),
and no connection is ever waited for (db.make_engine); handing it to a thread
and back cost more than the work itself under load: the loop and the thread
took turns at the interpreter's lock, 0.8-1.2 ms of CPU per read (see
docs/performance.md). The price: a query held up (a writer outside the service
holding the file, a stalled disk) or a submit's data path on a filesystem that
hangs (its prefix check resolves the path) holds every request meanwhile.

On a server database (PostgreSQL) a query waits on the network, on locks and on
the pool's connections, so the work goes to threads of its own, in arrival
order, rather than to the shared thread pool: a thread takes the next item as
soon as it is done with one, without going idle and being woken for each, and
no more threads run it than the pool keeps connections (`threads_for`). Pages,
publishing and plans keep the shared pool, so a slow page never holds up a
status. A request cancelled while its work runs in a thread (its client went
away) waits for the work to finish, so that nothing the work uses (its session)
is closed under it.
"""

from __future__ import annotations

import asyncio
import contextvars
import queue
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Engine


def threads_for(engine: Engine) -> int:
    """SQLite: none, the work runs in place. Other databases: as many threads as the pool keeps connections."""
    return 0 if engine.dialect.name == "sqlite" else engine.pool.size()


class PointWork:
    """The threads (started at the first item, stopped by `close`) and the items waiting for them; with no
    threads, each item runs in place."""

    def __init__(self, threads: int):
        self.count = threads
        self._items: queue.SimpleQueue = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._starting = threading.Lock()

    async def run(self, work: Callable[..., Any], *args) -> Any:
        """`work(*args)` in one of the threads, or in place; its result or its exception."""
        if not self.count:
            return work(*args)
        if not self._threads:
            self._start()
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        self._items.put((loop, done, contextvars.copy_context(), work, args))
        cancelled = False
        while not done.done():
            try:
                await asyncio.shield(done)
            except asyncio.CancelledError:
                cancelled = True
        if cancelled:
            done.exception()  # taken: the request that would have answered with it is gone
            raise asyncio.CancelledError
        return done.result()

    def close(self) -> None:
        with self._starting:
            threads, self._threads = self._threads, []
        for _ in threads:
            self._items.put(None)
        for thread in threads:
            thread.join()

    def _start(self) -> None:
        with self._starting:
            if not self._threads:
                self._threads = [threading.Thread(target=self._serve, name=f"point-work-{i}", daemon=True)
                                 for i in range(self.count)]
                for thread in self._threads:
                    thread.start()

    def _serve(self) -> None:
        while (item := self._items.get()) is not None:
            loop, done, context, work, args = item
            try:
                outcome = (_set_result, done, context.run(work, *args))
            except BaseException as exc:  # handed to the request, which raises it
                outcome = (_set_exception, done, exc)
            try:
                loop.call_soon_threadsafe(*outcome)
            except RuntimeError:  # the loop has closed: nobody waits any more
                pass


def _set_result(done: asyncio.Future, result: Any) -> None:
    if not done.done():
        done.set_result(result)


def _set_exception(done: asyncio.Future, exc: BaseException) -> None:
    if not done.done():
        done.set_exception(exc)
