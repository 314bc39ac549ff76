"""The Kubernetes executor: a job becomes a batch/v1 Job (with its spec ConfigMap and NetworkPolicy)
created with the official client, followed until it ends, with logs from its pods or the artifact
store and cancellation by deletion.

Statuses come from one watched cache of every Railyard Job and Pod in the
namespace (kube_cache.py), so following N jobs costs no requests per job. A job
the cache does not know yet is read directly, unless this executor submitted it
moments ago (then it is queued: its Job is on its way through the watch).
A job id with no Job (and no stored log, for `read_log`) is `UnknownJob`. A
Job that completes is `complete` only when its result.json says so
(`job.checked_result`, read once per job), else failed with `NoResult`.

Configuration comes from the in-cluster service account or, outside a cluster,
from the kubeconfig ($KUBECONFIG or ~/.kube/config). The trainer binary is
copied into the artifact store under its sha256 before the Job is created. The
Job is created suspended and resumed once its ConfigMap and NetworkPolicy (both
owned by it) exist, so that no pod runs outside its policy. With `kueue` in the
launch config, Kueue resumes the Job when its owner's LocalQueue admits it, which
may be the moment it exists: the NetworkPolicy and ConfigMap are created first,
and made the Job's once it exists.

A job with several workers is an Indexed Job with a headless Service (owned by
the Job too, and deleted with it on cancel): it is complete when the Job is,
failed with `WorkerFailed` naming the worker that failed (kube_status.py), with
the trainer's exception_info when that was worker 0; its logs are every
worker's, each line prefixed `[worker i] `; its pages of log are worker 0's.

Kubernetes restarts the pod of a job of one worker itself. A job of several
workers whose Job failed because a worker was pre-empted or killed is started
again by the service (`retry`): as a Job of its own, its next attempt
(`railyard<n>-<id>`, render.py), resuming from the checkpoints in the same
output. The ended attempt's Job and pods stay until their TTL, for their logs.
A job's status is its newest attempt's; its logs are every attempt's.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

from railyard.errors import EXIT_BAD_SPEC, RailyardError, UserError
from railyard.launch.job import (
    LOG_PAGE_BYTES,
    Executor,
    FailureReason,
    JobRequest,
    JobState,
    JobStatus,
    StillRunning,
    UnknownJob,
    checked_result,
)
from railyard.launch.kube_cache import JOB_ID_LABEL, SELECTOR, KubeCache
from railyard.launch.kube_status import CANCELLED_ANNOTATION, failed_worker, job_status, worker_index
from railyard.launch.render import (
    MAX_JOB_ID_LENGTH,
    SERVICE_SUFFIX,
    attempt_of,
    binary_uri,
    check_job_id,
    job_name,
    output_uri,
    render,
)
from railyard.launch.resources import LaunchConfig
from railyard.launch.result_reads import ResultReads
from railyard.result import read_result
from railyard.run_layout import LOG
from railyard.storage import is_s3_uri, open_store

WATCH_SECONDS = 60  # how long one watch request lasts before it is renewed
SUBMITTED_GRACE_SECONDS = 30  # a job submitted this recently and not yet in the cache is queued
SYNC_WAIT_SECONDS = 5  # how long the first look waits for the cache's first LIST
log = logging.getLogger("railyard.kubernetes")


class KubernetesError(RailyardError):
    """The Kubernetes API refused or failed a request."""


def api_client(context: str | None = None):
    """An ApiClient from the in-cluster configuration, else the kubeconfig."""
    from kubernetes import client, config

    try:
        config.load_incluster_config()
        return client.ApiClient()
    except config.ConfigException:
        pass
    try:
        return config.new_client_from_config(context=context)
    except (config.ConfigException, OSError) as exc:
        raise UserError(f"no Kubernetes configuration: not in a cluster and no usable kubeconfig ({exc})") from exc


def _as_dict(client_api, obj) -> dict:
    return client_api.sanitize_for_serialization(obj)


def newest_attempt(jobs: list[dict], pods: list[dict]) -> tuple[dict | None, list[dict]]:
    """Of a job's Jobs and pods, its newest attempt's Job (None: no Job) and that attempt's pods."""
    if not jobs:
        return None, []
    job = max(jobs, key=attempt_of)
    return job, [pod for pod in pods if attempt_of(pod) == attempt_of(job)]


def _owner_reference(job) -> dict:
    """Makes an object the Job's: deleted with it."""
    return {"apiVersion": "batch/v1", "kind": "Job", "name": job.metadata.name, "uid": job.metadata.uid,
            "controller": True, "blockOwnerDeletion": True}


class KubernetesExecutor(Executor):

    def __init__(self, config: LaunchConfig, api=None, watch_seconds: int = WATCH_SECONDS, use_cache: bool = True):
        """`use_cache=False` reads every status with direct requests (two LISTs per job), as before the cache."""
        from kubernetes import client

        self.config = config
        self.api = api or api_client()
        self.batch = client.BatchV1Api(self.api)
        self.core = client.CoreV1Api(self.api)
        self.networking = client.NetworkingV1Api(self.api)
        self.namespace = config.namespace
        self.cancelled: set[str] = set()
        self.watch_seconds = watch_seconds
        self.use_cache = use_cache
        self._cache: KubeCache | None = None
        self._cache_lock = threading.Lock()
        self._submitted: dict[str, tuple[float, int]] = {}  # job id -> (time.monotonic() of its submit, its attempt)
        self._results = ResultReads()  # (job id, attempt, Job's status) -> with result.json's word, read once, off the follow path

    def cache(self) -> KubeCache | None:
        """The watched cache, started (and waited for, a little) on first use; None with use_cache=False."""
        if not self.use_cache:
            return None
        if self._cache is not None:
            return self._cache
        with self._cache_lock:
            if self._cache is None:
                self._cache = KubeCache(self.batch, self.core, self.namespace, self.watch_seconds).start()
                self._cache.wait_synced(SYNC_WAIT_SECONDS)
            return self._cache

    def close(self) -> None:
        """Stop the cache's watches."""
        with self._cache_lock:
            if self._cache is not None:
                self._cache.stop()
                self._cache = None
        self._results.close()

    def _call(self, what: str, function, *args, **kwargs):
        from kubernetes.client.exceptions import ApiException

        try:
            return function(*args, **kwargs)
        except ApiException as exc:
            raise KubernetesError(f"{what}: {exc.status} {exc.reason}: {(exc.body or '')[:500]}") from exc

    def upload_binary(self, job: JobRequest) -> str:
        uri = binary_uri(self.config, job.binary.sha256)
        head, _, name = uri.rpartition("/")
        store = open_store(head)
        if not store.exists(name):
            store.put_file(name, job.binary.path)
        return uri

    def output_uri(self, job_id: str) -> str:
        return output_uri(self.config, job_id)

    def retries_itself(self, workers: int) -> bool:
        return workers == 1  # the Job's backoffLimit and podFailurePolicy restart its one pod

    def submit(self, job: JobRequest) -> None:
        self._submit(job, attempt=1)

    def retry(self, job: JobRequest) -> None:
        """Start a job whose Job failed again as its next attempt's Job; the same output, so its trainer resumes
        from the job's checkpoints. The ended Job is kept, for its pods' logs, until its TTL."""
        self._checked(job.job_id)
        ended, pods = self._direct(job.job_id)
        if ended is None:
            raise self._unknown(job.job_id)
        if not job_status(ended, pods).state.finished:
            raise StillRunning(f"job {job.job_id} still runs (its attempt {attempt_of(ended)}): it cannot be started again")
        self._submit(job, attempt=attempt_of(ended) + 1)

    def _submit(self, job: JobRequest, attempt: int) -> None:
        if not job.binary.sha256:
            raise UserError("--binary dev runs only on the local backend; a Kubernetes job needs a .pex or a Bazel target")
        self.admit(job.spec, job.workers)
        reads = [("model", job.explanation.model), ("data", job.explanation.data)] if job.explanation else \
            [(f"data.features[{i}].path", source.path) for i, source in enumerate(job.spec.data.features)]
        for where, location in reads:
            if not is_s3_uri(location):
                raise UserError(f"{where}: {location} is not an s3:// URI; a Kubernetes job cannot read local files")
        if not is_s3_uri(job.output):
            raise UserError(f"output {job.output} is not an s3:// URI; a Kubernetes job cannot write local files")
        *owned, manifest = render(job, self.config, attempt)  # NetworkPolicy, ConfigMap[, Service], Job
        self.upload_binary(job)
        manifest["spec"]["suspend"] = True
        submit = self._submit_to_kueue if self.config.kueue is not None else self._submit_and_resume
        submit(job.job_id, manifest, owned)
        self._remember_submit(job.job_id, attempt)

    def _submit_and_resume(self, job_id: str, manifest: dict, owned: list[dict]) -> None:
        """The suspended Job, then the objects it owns (the NetworkPolicy last), then the Job resumed."""
        created = self._create_job(job_id, manifest)
        for obj in sorted(owned, key=lambda o: o["kind"] == "NetworkPolicy"):
            self._create_owned(obj, _owner_reference(created), self._namespaced("create", obj["kind"]))
        if created.spec.suspend:
            name = created.metadata.name
            self._call(f"resuming Job {name}", self.batch.patch_namespaced_job, name, self.namespace, {"spec": {"suspend": False}})

    def _submit_to_kueue(self, job_id: str, manifest: dict, owned: list[dict]) -> None:
        """The NetworkPolicy and ConfigMap (and Service) first, then the suspended Job for Kueue to admit and resume;
        then they are made the Job's, to be deleted with it. Were that to fail, the Job still runs within its policy."""
        for obj in owned:
            self._create_owned(obj, None, self._namespaced("create", obj["kind"]))
        owner = _owner_reference(self._create_job(job_id, manifest))
        for obj in owned:
            kind, name = obj["kind"], obj["metadata"]["name"]
            try:
                self._call(f"making {kind} {name} the Job's", self._namespaced("patch", kind), name, self.namespace,
                           {"metadata": {"ownerReferences": [owner]}})
            except KubernetesError as exc:
                log.warning("job %s: %s; delete it once the Job is gone", job_id, exc)

    def _create_job(self, job_id: str, manifest: dict):
        """Create the Job; one that exists already for this job (a retried submit) is kept and returned."""
        from kubernetes.client.exceptions import ApiException

        name = manifest["metadata"]["name"]
        try:
            return self.batch.create_namespaced_job(self.namespace, manifest)
        except ApiException as exc:
            if exc.status != 409:
                raise KubernetesError(f"creating Job {name}: {exc.status} {exc.reason}") from exc
            created = self._call("reading the existing Job", self.batch.read_namespaced_job, name, self.namespace)
            if created.metadata.annotations.get("railyard.io/job-id") != job_id:
                raise KubernetesError(f"Job {name} already exists for another job") from exc
            return created

    def _namespaced(self, verb: str, kind: str):
        """The client call that creates or patches an object the Job owns: `verb` create or patch."""
        api, resource = {"ConfigMap": (self.core, "config_map"), "Service": (self.core, "service"),
                         "NetworkPolicy": (self.networking, "network_policy")}[kind]
        return getattr(api, f"{verb}_namespaced_{resource}")

    def _remember_submit(self, job_id: str, attempt: int) -> None:
        now = time.monotonic()
        for old in [j for j, (at, _) in list(self._submitted.items()) if now - at > SUBMITTED_GRACE_SECONDS]:
            self._submitted.pop(old, None)
        self._submitted[job_id] = now, attempt

    def _just_submitted(self, job_id: str, seen: int = 0) -> bool:
        """Whether this executor submitted an attempt of the job newer than `seen` moments ago."""
        at, attempt = self._submitted.get(job_id, (None, 0))
        return at is not None and attempt > seen and time.monotonic() - at < SUBMITTED_GRACE_SECONDS

    def _create_owned(self, manifest: dict, owner: dict | None, create) -> None:
        """Create an object the Job owns (deleted with it; `owner` None: made its later); one that exists already
        (a retried submit) is kept."""
        from kubernetes.client.exceptions import ApiException

        if owner is not None:
            manifest["metadata"]["ownerReferences"] = [owner]
        try:
            create(self.namespace, manifest)
        except ApiException as exc:
            if exc.status != 409:
                raise KubernetesError(f"creating {manifest['kind']} {manifest['metadata']['name']}: {exc.status} {exc.reason}") from exc

    def _jobs(self, job_id: str) -> list[dict]:
        """Every attempt's Job of the job."""
        jobs = self._call("listing Jobs", self.batch.list_namespaced_job, self.namespace,
                          label_selector=f"{SELECTOR},{JOB_ID_LABEL}={job_id}")
        return [_as_dict(self.api, j) for j in jobs.items]

    def _pods(self, job_id: str) -> list[dict]:
        """Every attempt's pods of the job."""
        pods = self._call("listing pods", self.core.list_namespaced_pod, self.namespace,
                          label_selector=f"{SELECTOR},{JOB_ID_LABEL}={job_id}")
        return [_as_dict(self.api, p) for p in pods.items]

    def _cached(self, job_id: str) -> tuple[dict, list[dict]] | None:
        """The newest attempt's Job and pods from the watched cache, or None when it has not synced, does not
        know the job, or has not yet seen the attempt this executor just submitted."""
        cache = self.cache()
        if cache is None or not cache.synced:
            return None
        job, pods = newest_attempt(cache.jobs_of(job_id), cache.pods_of(job_id))
        if job is None or self._just_submitted(job_id, seen=attempt_of(job)):
            return None
        return job, pods

    def _direct(self, job_id: str) -> tuple[dict | None, list[dict]]:
        """The newest attempt's Job (None if there is none) and its pods, read with two LISTs."""
        jobs = self._jobs(job_id)
        return newest_attempt(jobs, self._pods(job_id) if jobs else [])

    def _unknown(self, job_id: str) -> UnknownJob:
        return UnknownJob(f"no Job of job {job_id} ({job_name(job_id)}) in namespace {self.namespace}")

    def _checked(self, job_id: str) -> str:
        """The job id, or UnknownJob for one no Job can have been submitted with (whose name could be another job's)."""
        try:
            return check_job_id(job_id)
        except UserError:
            raise UnknownJob(f"no job {job_id[:MAX_JOB_ID_LENGTH]!r} in namespace {self.namespace}: not a job id") from None

    def status(self, job_id: str) -> JobStatus:
        """The job's status; UnknownJob when there is no such Job (and this executor did not just submit or cancel it)."""
        self._checked(job_id)
        observed, fresh = self._cached(job_id), False
        if observed is None:
            if job_id in self.cancelled:
                return JobStatus(JobState.cancelled, reason=FailureReason.Cancelled)
            if self._just_submitted(job_id):
                return JobStatus(JobState.queued)
            observed, fresh = self._direct(job_id), True
        job, pods = observed
        if job is None:
            if job_id in self.cancelled:
                return JobStatus(JobState.cancelled, reason=FailureReason.Cancelled)
            raise self._unknown(job_id)
        status = job_status(job, pods)
        if status.state is JobState.failed and not fresh:
            # a failure ends the job unless it starts again: confirmed by a direct read, since the cache may not yet
            # have seen the next attempt another replica started
            job, pods = self._direct(job_id)
            if job is None:
                raise self._unknown(job_id)
            status = job_status(job, pods)
        if job_id in self.cancelled and not status.state.finished:
            return JobStatus(JobState.cancelled, reason=FailureReason.Cancelled)  # the watch has not yet seen the cancel
        # result.json is worker 0's: it explains a failure of worker 0 (or of the one worker), or an error in the
        # spec or data (exit 2) that every worker finds, whichever worker ended first; not another worker's own
        if status.state is JobState.complete or (status.state is JobState.failed and status.exit_code in (1, 2, 3)
                                                 and (status.exit_code == EXIT_BAD_SPEC or not failed_worker(job, pods))):
            told = self._with_result(job_id, job, status)
            if told is None:  # being read: finished, but not yet known how
                return JobStatus(JobState.running, message="finished; its result.json is being read")
            # an exit 2 is worker 0's story only when its result says exit 2 too (not its lost link, say)
            if status.exit_code != EXIT_BAD_SPEC or (told.exception_info or {}).get("exit_code") == EXIT_BAD_SPEC:
                status = told
        return status

    def _with_result(self, job_id: str, job: dict, status: JobStatus) -> JobStatus | None:
        """What the job's result.json adds to a finished status: NoResult for a complete Job without a complete
        result.json, the trainer's exception_info for a failed one; None while it is being read (result_reads.py)."""
        output = (job["metadata"].get("annotations") or {}).get("railyard.io/output") or output_uri(self.config, job_id)

        def read() -> JobStatus:
            if status.state is JobState.complete:
                return checked_result(status, output)
            info = (read_result(output) or {}).get("exception_info")
            return JobStatus.trainer_failed(info, status.exit_code) if info else status

        return self._results.verdict((job_id, attempt_of(job), status), read)

    def logs(self, job_id: str) -> str:
        """Every pod's trainer log, attempt by attempt."""
        self._checked(job_id)
        pods = self._pods(job_id)
        if not pods and not self._jobs(job_id) and job_id not in self.cancelled:
            raise self._unknown(job_id)
        parts = []
        for pod in sorted(pods, key=lambda p: (attempt_of(p), worker_index(p) or 0, p["metadata"].get("creationTimestamp") or "")):
            name = pod["metadata"]["name"]
            text = self._call(f"reading logs of {name}", self.core.read_namespaced_pod_log, name, self.namespace, container="trainer")
            index = worker_index(pod)
            if index is not None:
                text = "".join(f"[worker {index}] {line}" for line in text.splitlines(keepends=True))
            parts.append(f"==> pod {name} <==\n{text}")
        return "\n".join(parts)

    def read_log(self, job_id: str, offset: int = 0, limit: int = LOG_PAGE_BYTES) -> tuple[bytes, int]:
        """From the trainer.log in the artifact store once the job has finished and the trainer wrote one,
        else from the newest pod's trainer container; either way only the bytes up to offset + limit are read.
        A job with neither a Job nor a stored log is unknown (unless this executor cancelled it)."""
        self._checked(job_id)
        job, pods = self._direct(job_id)  # fresh: a page of log is asked for once, not every tick
        page = None
        if job is None or job_status(job, pods).state.finished:
            page = self._stored_log(job, job_id, offset, limit)
        if page is None and job is None and job_id not in self.cancelled:
            raise self._unknown(job_id)
        if limit <= 0:
            return b"", offset
        if page is None:
            page = self._pod_log(pods, offset, limit)
        return page, offset + len(page)

    def _stored_log(self, job: dict | None, job_id: str, offset: int, limit: int) -> bytes | None:
        annotations = (job or {}).get("metadata", {}).get("annotations") or {}
        store = open_store(annotations.get("railyard.io/output") or output_uri(self.config, job_id))
        if not store.exists(LOG):
            return None
        return store.read_range(LOG, offset, limit) if limit > 0 else b""

    def _pod_log(self, pods: list[dict], offset: int, limit: int) -> bytes:
        """The newest pod's trainer log (the latest attempt; worker 0's, of several workers), read up to
        offset + limit bytes."""
        from kubernetes.client.exceptions import ApiException

        pods = [p for p in pods if not worker_index(p)]  # no index (one worker) or worker 0
        if not pods:
            return b""
        pod = max(pods, key=lambda p: p["metadata"].get("creationTimestamp") or "")
        name = pod["metadata"]["name"]
        try:
            response = self.core.read_namespaced_pod_log(name, self.namespace, container="trainer",
                                                         limit_bytes=offset + limit, _preload_content=False)
        except ApiException as exc:
            if exc.status in (400, 404):  # not started yet, or gone
                return b""
            raise KubernetesError(f"reading logs of {name}: {exc.status} {exc.reason}") from exc
        try:
            return response.data[offset:offset + limit]
        finally:
            response.release_conn()

    def cancel(self, job_id: str) -> None:
        """Stop a job that is still queued or running; a finished job is left as it is, an unknown one is UnknownJob."""
        self._checked(job_id)
        job, pods = self._direct(job_id)
        if job is None:
            if job_id in self.cancelled:
                return
            raise self._unknown(job_id)
        if job_status(job, pods).state.finished:
            return
        self.cancelled.add(job_id)
        name = job["metadata"]["name"]
        self._call(f"marking Job {name} cancelled", self.batch.patch_namespaced_job, name, self.namespace,
                   {"metadata": {"annotations": {CANCELLED_ANNOTATION: "true"}}})
        self._delete(name, workers=(job.get("spec") or {}).get("completionMode") == "Indexed")

    def _delete(self, name: str, workers: bool = False) -> None:
        """Delete the Job (its pods and what it owns go with it) and, for a job with several workers, their Service."""
        from kubernetes.client.exceptions import ApiException

        try:
            self.batch.delete_namespaced_job(name, self.namespace, propagation_policy="Foreground")
        except ApiException as exc:
            if exc.status != 404:
                raise KubernetesError(f"deleting Job {name}: {exc.status} {exc.reason}") from exc
        if not workers:
            return
        service = f"{name}{SERVICE_SUFFIX}"
        try:  # owned by the Job, so normally gone with it; deleted here too so that none outlives a cancel
            self.core.delete_namespaced_service(service, self.namespace)
        except ApiException as exc:
            if exc.status != 404:
                raise KubernetesError(f"deleting Service {service}: {exc.status} {exc.reason}") from exc

    def watch(self, job_id: str, timeout_seconds: float | None = None) -> Iterator[JobStatus]:
        """Each new status until the job ends, looked at again whenever the watched cache changes."""
        deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
        last = None
        while True:
            cache = self.cache()
            seen = cache.version if cache is not None else 0
            status = self.status(job_id)
            if status != last:
                last = status
                yield status
            if status.state.finished:
                stuck, _ = self._direct(job_id) if status.reason == FailureReason.ImagePullBackOff else (None, None)
                if stuck is not None:
                    self._delete(stuck["metadata"]["name"])
                return
            wait = self.watch_seconds if deadline is None else min(self.watch_seconds, deadline - time.monotonic())
            if wait <= 0:
                return
            if cache is not None:
                cache.wait_for_change(seen, wait)
            else:
                time.sleep(min(wait, 1.0))
