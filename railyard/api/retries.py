"""Which failed runs of a job the service starts again, and what it records of each.

A run the infrastructure ended is started again, with the same id and output, so
that the trainer resumes from the job's checkpoints (docs/reliability.md): one
pre-empted (it wrote a checkpoint and exited 75), one killed by a signal nobody
here sent (a `kill -9`, the kernel's OOM killer outside any limit of ours) or stopped by a SIGTERM that was not
its cancel (a machine shutting down), one lost (its supervisor died,
or the executor has no record of it after a restart), and a job of several
workers one of which was pre-empted or killed: all its workers start again. Never a failure of the
spec, the data or the workflow's code, nor a cancelled job. A job runs at most
`max_attempts` times (`railyard serve --max-attempts`, default 3). Kubernetes
restarts the pod of a job of one worker itself (its `backoffLimit` and
`podFailurePolicy`): the service retries only what the executor does not
(`Executor.retries_itself`): every job on the local executor, and a job of
several workers on Kubernetes, whose Job fails at once when a worker is
pre-empted, evicted or killed and is started again as the next attempt's Job.

A run `OOMKilled` by its resource class's memory limit runs once more, on every
executor, on the class the launch config names as `larger` (CPU → HIGH_MEMORY),
when its spec says `allow_larger_class` and the spec is valid on that class.
"""

from __future__ import annotations

from railyard.api.store.models import Job, utcnow
from railyard.errors import EXIT_PREEMPTED, SpecError
from railyard.launch.job import Executor, JobStatus
from railyard.launch.resources import LaunchConfig
from railyard.spec import parse_spec
from railyard.states import FailureReason, JobState

RETRIED = frozenset({FailureReason.Preempted, FailureReason.Terminated, FailureReason.Killed, FailureReason.Lost,
                     FailureReason.Evicted})
# A container killed by SIGKILL or SIGTERM, as Kubernetes reports it (128 + the signal); a crash of its own
# (SIGSEGV: 139, SIGABRT: 134) or an exit code the trainer chose is not the infrastructure's.
KILLED_IN_A_CONTAINER = frozenset({128 + 9, 128 + 15})


def ended_by_infrastructure(status: JobStatus) -> bool:
    """A reason in RETRIED, or a worker of a job of several that was pre-empted (exit 75) or killed by a signal
    (a negative exit code on the local executor, KILLED_IN_A_CONTAINER on Kubernetes): its workers cannot carry
    on without it, and all start again from the checkpoints worker 0 wrote."""
    if status.reason in RETRIED:
        return True
    code = status.exit_code
    return (status.reason == FailureReason.WorkerFailed and code is not None
            and (code < 0 or code == EXIT_PREEMPTED or code in KILLED_IN_A_CONTAINER))


def should_retry(job: Job, status: JobStatus, executor: Executor, max_attempts: int) -> bool:
    return (status.state is JobState.failed and ended_by_infrastructure(status)
            and not executor.retries_itself(int((job.spec or {}).get("workers") or 1))
            and len(job.attempts or []) + 1 < max_attempts)


def larger_class(job: Job, status: JobStatus, config: LaunchConfig | None, max_attempts: int) -> str | None:
    """The class an OOMKilled run moves to, or None: once per job, where its spec allows it and fits that class."""
    if status.state is not JobState.failed or status.reason != FailureReason.OOMKilled or config is None:
        return None
    if not (job.spec or {}).get("allow_larger_class") or len(job.attempts or []) + 1 >= max_attempts:
        return None
    if any(a.get("reason") == FailureReason.OOMKilled for a in job.attempts or []):
        return None
    larger = config.resource_classes[job.compute_resource].larger if job.compute_resource in config.resource_classes else None
    if larger is None:
        return None
    try:
        parse_spec({**job.spec, "compute_resource": larger})  # at most 16 workers on HIGH_MEMORY, say
    except SpecError:
        return None
    return larger


def attempt(job: Job, status: JobStatus, result: dict | None) -> dict:
    """The record of the run that just ended: when, why, and where its trainer had resumed from."""
    block = (result or {}).get("result") if isinstance((result or {}).get("result"), dict) else {}
    resumed = ((block.get("checkpoints") or {}).get("resumed") or {}) if isinstance(block.get("checkpoints"), dict) else {}
    started = job.dispatched_at or job.created_at
    return {"started_at": started.isoformat(), "ended_at": utcnow().isoformat(), "reason": str(status.reason),
            "compute_resource": job.compute_resource,
            "message": status.message, "exit_code": status.exit_code,
            "resumed_from": resumed.get("from_iteration") if isinstance(resumed, dict) else None}
