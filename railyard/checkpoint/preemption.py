"""SIGTERM means "checkpoint now" while a training loop that checkpoints runs.

A pre-empted pod, a drained node or a stopped local job gets SIGTERM, then
SIGKILL after a grace period. Outside such a loop SIGTERM stops the work at once
(`railyard.job_run.Terminated`, exit 143). Inside one, the trainer's handler only
asks (`ask`); the loop writes a checkpoint at its next iteration boundary and
raises `Preempted`: the trainer exits 75, and the same command resumes.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

from railyard.errors import EXIT_PREEMPTED


class Preempted(BaseException):
    """Stopped by SIGTERM after writing a checkpoint; not caught by workflow error handling."""

    exit_code = EXIT_PREEMPTED


_loops = 0  # changed by the main thread only, where signal handlers run too: no lock (a handler must never wait)
_asked = threading.Event()


@contextmanager
def checkpointing():
    """Around a training loop that writes a checkpoint and stops when `asked()` at its iteration boundaries."""
    global _loops
    _loops += 1
    try:
        yield
    finally:
        _loops -= 1


def ask() -> bool:
    """Ask the running loop to checkpoint and stop (from the SIGTERM handler); False when no loop would."""
    if _loops == 0:
        return False
    _asked.set()
    return True


def asked() -> bool:
    return _asked.is_set()
