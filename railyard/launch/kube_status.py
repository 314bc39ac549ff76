"""Map a Kubernetes Job and its Pods to a Railyard job status. Pure functions over API objects as dicts.

Precedence: a cancellation Railyard asked for; the Job's terminal conditions
(Complete, Failed with DeadlineExceeded, BackoffLimitExceeded or
PodFailurePolicy), refined by what its pods say (OOMKilled, Evicted, the
trainer's exit code); a pod stuck pulling its image; running pods; else queued.
"""

from __future__ import annotations

from railyard.launch.job import (
    BACKOFF_LIMIT_EXCEEDED,
    DEADLINE_EXCEEDED,
    EVICTED,
    IMAGE_PULL_BACK_OFF,
    OOM_KILLED,
    JobState,
    JobStatus,
)

CANCELLED_ANNOTATION = "railyard.io/cancelled"
IMAGE_PULL_FAILURES = {"ImagePullBackOff", "ErrImagePull", "InvalidImageName"}


def _condition(job: dict, kind: str) -> dict | None:
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind and condition.get("status") == "True":
            return condition
    return None


def _terminated(pod: dict) -> list[dict]:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return [s["state"]["terminated"] for s in statuses if (s.get("state") or {}).get("terminated")]


def _waiting_reasons(pod: dict) -> list[str]:
    status = pod.get("status") or {}
    statuses = (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or [])
    return [s["state"]["waiting"].get("reason", "") for s in statuses if (s.get("state") or {}).get("waiting")]


def _pod_failure(pods: list[dict]) -> JobStatus | None:
    """The most telling failure among the pods, newest first."""
    for pod in sorted(pods, key=lambda p: p["metadata"].get("creationTimestamp") or "", reverse=True):
        status = pod.get("status") or {}
        if status.get("reason") == EVICTED:
            return JobStatus(JobState.failed, reason=EVICTED, message=status.get("message"))
        for terminated in _terminated(pod):
            if terminated.get("reason") == OOM_KILLED:
                return JobStatus(JobState.failed, reason=OOM_KILLED, exit_code=terminated.get("exitCode"),
                                 message="the trainer went over its memory limit")
            if terminated.get("exitCode"):
                return JobStatus(JobState.failed, reason="Error", exit_code=terminated["exitCode"],
                                 message=f"the trainer exited with code {terminated['exitCode']}")
    return None


def job_status(job: dict, pods: list[dict]) -> JobStatus:
    annotations = (job.get("metadata") or {}).get("annotations") or {}
    if annotations.get(CANCELLED_ANNOTATION) == "true":
        return JobStatus(JobState.cancelled, reason="Cancelled")
    if _condition(job, "Complete") or _condition(job, "SuccessCriteriaMet"):
        return JobStatus(JobState.complete, exit_code=0)
    failed = _condition(job, "Failed") or _condition(job, "FailureTarget")
    if failed:
        reason = failed.get("reason")
        from_pods = _pod_failure(pods)
        if reason == DEADLINE_EXCEEDED:
            return JobStatus(JobState.failed, reason=DEADLINE_EXCEEDED, message=failed.get("message"))
        if from_pods is not None and from_pods.reason in (OOM_KILLED, EVICTED):
            return from_pods
        if from_pods is not None:
            return JobStatus(JobState.failed, reason=reason or BACKOFF_LIMIT_EXCEEDED,
                             exit_code=from_pods.exit_code, message=from_pods.message)
        return JobStatus(JobState.failed, reason=reason or BACKOFF_LIMIT_EXCEEDED, message=failed.get("message"))
    for pod in pods:
        stuck = [r for r in _waiting_reasons(pod) if r in IMAGE_PULL_FAILURES]
        if stuck:
            return JobStatus(JobState.failed, reason=IMAGE_PULL_BACK_OFF, message=f"pod {pod['metadata']['name']}: {stuck[0]}")
    if any((p.get("status") or {}).get("phase") == "Running" for p in pods) or (job.get("status") or {}).get("active"):
        return JobStatus(JobState.running)
    return JobStatus(JobState.queued)
