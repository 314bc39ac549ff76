"""The states of a job and which may follow which, and why one failed: the one place they are spelled.

    queued ──► running ──► complete | failed | cancelled | pruned
       └──────────────────► failed | cancelled (and complete, when a fast job's running was never seen)

`pruned` is a sweep's trial that its pruner stopped early (railyard.api.sweeps): finished, not failed.

A finished state is final: nothing follows it. A failed job's reason is a `FailureReason` wherever the
platform tells it (an executor, the dispatcher), or the type of the trainer's own exception when the
trainer failed on its own and said why (`DataError`, `TrainingError`, `WorkerLinkLost`, ...).
"""

from __future__ import annotations

import enum


class JobState(str, enum.Enum):
    queued = "queued"
    running = "running"
    complete = "complete"
    failed = "failed"
    cancelled = "cancelled"
    pruned = "pruned"

    @property
    def finished(self) -> bool:
        return self in FINISHED

    def may_become(self, other: "JobState") -> bool:
        return other in TRANSITIONS[self]


class FailureReason(enum.StrEnum):
    """Why the platform failed or stopped a job."""

    OOMKilled = "OOMKilled"  # over its resource class's memory limit
    DeadlineExceeded = "DeadlineExceeded"  # ran longer than its resource class's deadline
    BackoffLimitExceeded = "BackoffLimitExceeded"  # Kubernetes gave up retrying its pods
    ImagePullBackOff = "ImagePullBackOff"  # its image cannot be pulled
    Evicted = "Evicted"  # its pod was evicted
    NoResult = "NoResult"  # exited 0 without a complete result.json
    WorkerFailed = "WorkerFailed"  # one worker of several exited non-zero or was killed; the message names it
    Lost = "Lost"  # the executor has no record of how it ended (its supervisor died, the machine restarted)
    LaunchFailed = "LaunchFailed"  # it could not be started
    Preempted = "Preempted"  # stopped by SIGTERM after writing a checkpoint (exit 75): resumable
    Terminated = "Terminated"  # stopped by SIGTERM anywhere else (exit 143): a retry starts where the last checkpoint is
    Killed = "Killed"  # its trainer was killed by a signal nobody here sent
    Error = "Error"  # its trainer exited non-zero without saying why
    Cancelled = "Cancelled"  # its user cancelled it


FINISHED = frozenset({JobState.complete, JobState.failed, JobState.cancelled, JobState.pruned})
TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    JobState.queued: frozenset({JobState.running, *FINISHED - {JobState.pruned}}),
    JobState.running: FINISHED,
    **{state: frozenset() for state in FINISHED},
}
