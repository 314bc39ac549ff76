"""The states of a job and which may follow which: the one place they are spelled.

    queued ──► running ──► complete | failed | cancelled
       └──────────────────► failed | cancelled (and complete, when a fast job's running was never seen)

A finished state is final: nothing follows it.
"""

from __future__ import annotations

import enum


class JobState(str, enum.Enum):
    queued = "queued"
    running = "running"
    complete = "complete"
    failed = "failed"
    cancelled = "cancelled"

    @property
    def finished(self) -> bool:
        return self in FINISHED

    def may_become(self, other: "JobState") -> bool:
        return other in TRANSITIONS[self]


FINISHED = frozenset({JobState.complete, JobState.failed, JobState.cancelled})
TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    JobState.queued: frozenset({JobState.running, *FINISHED}),
    JobState.running: FINISHED,
    **{state: frozenset() for state in FINISHED},
}
