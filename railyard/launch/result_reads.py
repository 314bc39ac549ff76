"""Reading finished jobs' result.json off the follow path: many at once, each once.

Whether a finished Kubernetes Job completed is result.json's word too (a Job that
succeeded without a complete result.json failed: NoResult), and a failed one's
exception comes from it. Read one after another on the follower's path, each a
GET from the artifact store of tens of milliseconds, a thousand completions
would be seen tens of seconds late. `ResultReads.verdict` answers at once: the
verdict once its read is done, None while a thread of the pool reads it. The
executor reports such a job as still running meanwhile, since a finished state
is final and the read may yet turn `complete` into `NoResult`.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor

from railyard.launch.job import JobStatus

THREADS = 16  # reads at once: the artifact store serves them in parallel
KEPT = 10_000  # verdicts remembered, the oldest forgotten first
log = logging.getLogger("railyard")


class ResultReads:
    def __init__(self, threads: int = THREADS, kept: int = KEPT):
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="result-reads")
        self._kept = kept
        self._done: OrderedDict[Hashable, JobStatus] = OrderedDict()
        self._reading: dict[Hashable, Future] = {}
        self._lock = threading.Lock()

    def verdict(self, key: Hashable, read: Callable[[], JobStatus]) -> JobStatus | None:
        """`read()`'s answer for `key`, read once; None while it is being read (again after a read that failed)."""
        with self._lock:
            if key in self._done:
                return self._done[key]
            reading = self._reading.get(key)
            if reading is None:
                self._reading[key] = self._pool.submit(read)
                return None
            if not reading.done():
                return None
            del self._reading[key]
            error = reading.exception()
            if error is not None:
                log.warning("reading a result.json failed, to be read again: %s", error)
                return None
            self._done[key] = found = reading.result()
            while len(self._done) > self._kept:
                self._done.popitem(last=False)
            return found

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
