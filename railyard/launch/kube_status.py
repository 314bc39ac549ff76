"""Map a Kubernetes Job and its Pods to a Railyard job status. Pure functions over API objects as dicts.

Precedence: a cancellation Railyard asked for; the Job's terminal conditions
(Complete, Failed with DeadlineExceeded, BackoffLimitExceeded or
PodFailurePolicy), refined by what its pods say (OOMKilled, Evicted, the
trainer's exit code); a pod stuck pulling its image; running pods; else queued.

A job with several workers (an Indexed Job) fails as soon as one worker does:
`WorkerFailed`, naming that worker (`worker 2 exited with 1`; `worker 2: …` for
OOMKilled and Evicted), from the Job's `failedIndexes` and its pods' completion
index, preferring the worker that failed first on its own: a worker that exits 3
lost its link to the others (`WorkerLinkLost`) because another failed. A worker
whose pod was pre-empted or drained (the pod's `DisruptionTarget` condition) is
`Preempted`, which the service starts again (api/retries.py). Such a pod is
often deleted by the time anyone looks: the Job's `Failed` condition still says
which FailJob rule of its podFailurePolicy matched which pod, and that is read.
"""

from __future__ import annotations

import re

from railyard.errors import EXIT_LINK_LOST, EXIT_PREEMPTED
from railyard.launch.job import (
    FailureReason,
    JobState,
    JobStatus,
    worker_exited,
)

CANCELLED_ANNOTATION = "railyard.io/cancelled"
# The Job controller's messages for a FailJob rule that matched (pkg/controller/job/pod_failure_policy.go).
_RULE_EXIT = re.compile(r"Container \S+ for pod [^/\s]+/(?P<pod>\S+) failed with exit code (?P<code>-?\d+) matching FailJob rule")
_RULE_DISRUPTED = re.compile(r"Pod [^/\s]+/(?P<pod>\S+) has condition DisruptionTarget matching FailJob rule")
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
IMAGE_PULL_FAILURES = {"ImagePullBackOff", "ErrImagePull", "InvalidImageName"}


def _condition(job: dict, kind: str) -> dict | None:
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind and condition.get("status") == "True":
            return condition
    return None


def _terminated(pod: dict) -> list[dict]:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return [s["state"]["terminated"] for s in statuses if (s.get("state") or {}).get("terminated")]


def _disruption(pod: dict) -> dict | None:
    """The pod's DisruptionTarget condition: the pod was pre-empted, evicted or its node drained."""
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "DisruptionTarget" and condition.get("status") == "True":
            return condition
    return None


def _waiting_reasons(pod: dict) -> list[str]:
    status = pod.get("status") or {}
    statuses = (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or [])
    return [s["state"]["waiting"].get("reason", "") for s in statuses if (s.get("state") or {}).get("waiting")]


def worker_index(pod: dict) -> int | None:
    """A pod's completion index in an Indexed Job (its worker), from its label or annotation; None for other pods."""
    metadata = pod.get("metadata") or {}
    value = (metadata.get("labels") or {}).get(COMPLETION_INDEX) or (metadata.get("annotations") or {}).get(COMPLETION_INDEX)
    return int(value) if value is not None and value.isdigit() else None


def failed_indexes(job: dict) -> set[int]:
    """The Job's `failedIndexes` ("1,3-5") as a set."""
    found: set[int] = set()
    for part in ((job.get("status") or {}).get("failedIndexes") or "").split(","):
        first, _, last = part.strip().partition("-")
        if first.isdigit() and (not last or last.isdigit()):
            found.update(range(int(first), int(last or first) + 1))
    return found


def _failing_pod(pods: list[dict], failed: set[int]) -> tuple[dict, JobStatus] | None:
    """The pod with the most telling failure, and that failure: of the workers in `failed` first, then one that
    failed on its own rather than losing its link to the others (exit 3), then the first to finish (the others
    of a job with several workers fail after it), else the newest pod."""
    def worker_order(pod: dict) -> tuple[bool, bool, str]:
        if worker_index(pod) is None:
            return False, False, ""
        terminated = _terminated(pod)
        link_lost = any(t.get("exitCode") == EXIT_LINK_LOST for t in terminated)
        return worker_index(pod) not in failed, link_lost, min((t.get("finishedAt") or "~" for t in terminated), default="~")

    newest_first = sorted(pods, key=lambda p: p["metadata"].get("creationTimestamp") or "", reverse=True)
    for pod in sorted(newest_first, key=worker_order):
        status = pod.get("status") or {}
        index = worker_index(pod)
        worker = "" if index is None else f"worker {index}: "
        if status.get("reason") == FailureReason.Evicted:
            message = status.get("message")
            if worker:
                message = f"{worker}{message or 'evicted'}"
            return pod, JobStatus(JobState.failed, reason=FailureReason.Evicted, message=message)
        disruption = _disruption(pod)
        if disruption is not None and index is not None:
            codes = [t.get("exitCode") for t in _terminated(pod)]
            return pod, JobStatus(JobState.failed, reason=FailureReason.Preempted, exit_code=codes[0] if codes else None,
                                  message=f"{worker}its pod was disrupted ({disruption.get('reason') or 'DisruptionTarget'}"
                                          f"{': ' + disruption['message'] if disruption.get('message') else ''})")
        for terminated in _terminated(pod):
            code = terminated.get("exitCode")
            if terminated.get("reason") == FailureReason.OOMKilled:
                return pod, JobStatus(JobState.failed, reason=FailureReason.OOMKilled, exit_code=code,
                                      message=f"{worker}the trainer went over its memory limit")
            if code and index is not None:
                return pod, JobStatus(JobState.failed, reason=FailureReason.WorkerFailed, exit_code=code, message=worker_exited(index, code))
            if code:
                return pod, JobStatus(JobState.failed, reason=FailureReason.Error, exit_code=code,
                                      message=f"the trainer exited with code {code}")
    return None


def _failed_by_rule(job: dict, failed: dict) -> JobStatus | None:
    """A worker pre-empted, as the podFailurePolicy's FailJob rule that failed the Job names it: its pod disrupted
    (Preempted), or its trainer exiting 75 after a checkpoint (WorkerFailed); None for any other failure."""
    if failed.get("reason") != "PodFailurePolicy":
        return None
    message = failed.get("message") or ""
    disrupted, exited = _RULE_DISRUPTED.search(message), _RULE_EXIT.search(message)
    if exited is not None and int(exited["code"]) != EXIT_PREEMPTED:
        return None
    found = disrupted or exited
    if found is None:
        return None
    index = re.fullmatch(rf"{re.escape(job['metadata']['name'])}-(\d+)-\w+", found["pod"])
    if disrupted is not None:
        worker = f"worker {index[1]}" if index else f"pod {found['pod']}"
        return JobStatus(JobState.failed, reason=FailureReason.Preempted, message=f"{worker}: its pod was disrupted (DisruptionTarget)")
    return JobStatus(JobState.failed, reason=FailureReason.WorkerFailed, exit_code=EXIT_PREEMPTED,
                     message=worker_exited(int(index[1]), EXIT_PREEMPTED) if index else f"pod {found['pod']} exited with 75")


def failed_worker(job: dict, pods: list[dict]) -> int | None:
    """The worker whose failure failed a job of several workers (as `job_status` names it); None for one worker."""
    found = _failing_pod(pods, failed_indexes(job))
    if found is not None:
        return worker_index(found[0])
    return min(failed_indexes(job), default=None)


def job_status(job: dict, pods: list[dict]) -> JobStatus:
    annotations = (job.get("metadata") or {}).get("annotations") or {}
    if annotations.get(CANCELLED_ANNOTATION) == "true":
        return JobStatus(JobState.cancelled, reason=FailureReason.Cancelled)
    if _condition(job, "Complete") or _condition(job, "SuccessCriteriaMet"):
        return JobStatus(JobState.complete, exit_code=0)
    failed = _condition(job, "Failed") or _condition(job, "FailureTarget")
    if failed:
        reason = failed.get("reason")
        indexes = failed_indexes(job)
        found = _failing_pod(pods, indexes)
        from_pods = None if found is None else found[1]
        if reason == FailureReason.DeadlineExceeded:
            return JobStatus(JobState.failed, reason=FailureReason.DeadlineExceeded, message=failed.get("message"))
        by_rule = _failed_by_rule(job, failed)
        if by_rule is not None and (from_pods is None or from_pods.reason != FailureReason.Preempted):
            return by_rule
        if from_pods is not None and from_pods.reason in (FailureReason.OOMKilled, FailureReason.Evicted, FailureReason.WorkerFailed,
                                                          FailureReason.Preempted):
            return from_pods
        if from_pods is not None:
            return JobStatus(JobState.failed, reason=reason or FailureReason.BackoffLimitExceeded,
                             exit_code=from_pods.exit_code, message=from_pods.message)
        if indexes:
            return JobStatus(JobState.failed, reason=FailureReason.WorkerFailed,
                             message=f"worker {min(indexes)} failed: {failed.get('message') or reason}")
        return JobStatus(JobState.failed, reason=reason or FailureReason.BackoffLimitExceeded, message=failed.get("message"))
    for pod in pods:
        stuck = [r for r in _waiting_reasons(pod) if r in IMAGE_PULL_FAILURES]
        if stuck:
            return JobStatus(JobState.failed, reason=FailureReason.ImagePullBackOff, message=f"pod {pod['metadata']['name']}: {stuck[0]}")
    if any((p.get("status") or {}).get("phase") == "Running" for p in pods) or (job.get("status") or {}).get("active"):
        return JobStatus(JobState.running)
    return JobStatus(JobState.queued)
