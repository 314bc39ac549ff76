"""Which failed runs of a job the service starts again, and what it records of each.

A run the infrastructure ended is started again, with the same id and output, so
that the trainer resumes from the job's checkpoints (docs/reliability.md): one
pre-empted (it wrote a checkpoint and exited 75), one killed by a signal nobody
here sent (the kernel's OOM killer, a `kill -9`) or stopped by a SIGTERM that was not
its cancel (a machine shutting down), one lost (its supervisor died,
or the executor has no record of it after a restart). Never a failure of the
spec, the data or the workflow's code, nor a cancelled job. A job runs at most
`max_attempts` times (`railyard serve --max-attempts`, default 3). Kubernetes
restarts a Job's pods itself (its `backoffLimit` and `podFailurePolicy`): the
service retries only on executors that do not (`Executor.retries_itself`).
"""

from __future__ import annotations

from railyard.api.store.models import Job, utcnow
from railyard.launch.job import Executor, JobStatus
from railyard.states import FailureReason, JobState

RETRIED = frozenset({FailureReason.Preempted, FailureReason.Terminated, FailureReason.Killed, FailureReason.Lost})


def should_retry(job: Job, status: JobStatus, executor: Executor, max_attempts: int) -> bool:
    return (status.state is JobState.failed and status.reason in RETRIED and not executor.retries_itself
            and len(job.attempts or []) + 1 < max_attempts)


def attempt(job: Job, status: JobStatus, result: dict | None) -> dict:
    """The record of the run that just ended: when, why, and where its trainer had resumed from."""
    block = (result or {}).get("result") if isinstance((result or {}).get("result"), dict) else {}
    resumed = ((block.get("checkpoints") or {}).get("resumed") or {}) if isinstance(block.get("checkpoints"), dict) else {}
    started = job.dispatched_at or job.created_at
    return {"started_at": started.isoformat(), "ended_at": utcnow().isoformat(), "reason": str(status.reason),
            "message": status.message, "exit_code": status.exit_code,
            "resumed_from": resumed.get("from_iteration") if isinstance(resumed, dict) else None}
