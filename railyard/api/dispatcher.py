"""The dispatcher: a background worker that moves queued jobs to the executor and follows them.

Each tick it (1) asks the executor about every dispatched, unfinished job and
records new states, with the model id and provenance from result.json when a
job ends; (2) dispatches queued jobs while each compute resource has fewer
running jobs than its concurrency limit, taken fairly across owners
(fair_share.py: round-robin, fewest running first, within per-owner caps),
after driving the running sweeps (sweeps.py: their trials are told, pruned and asked for).

Restarts are safe, `kill -9` included: a job's dispatch is recorded after the
executor has it, and before dispatching the executor is asked whether it
already has the job (then it is adopted, never started twice). Executors keep
running jobs outside this process, so after a restart they are simply followed
again; one whose process died meanwhile is reported failed by the executor.
A job the executor has no record of (`UnknownJob`) fails with reason `Lost`;
an executor that cannot answer right now (its API is down) is asked again the
next tick. A run the infrastructure ended (pre-empted, killed, lost) is started
again, up to `max_attempts` runs, and resumes from its checkpoints (retries.py). Whether a finished job completed (result.json included) is the
executor's word, not the dispatcher's.

Several replicas may share one PostgreSQL. Each follows a job inside a
transaction that holds the job's row (`FOR UPDATE SKIP LOCKED`: a row another
replica holds is skipped this tick), and dispatching is one replica's turn at a
time (a transaction-scoped advisory lock), so every job is dispatched exactly
once and the concurrency limits hold across replicas. A replica killed with
`kill -9` holds nothing: its transactions end with its connections, and the
others go on following its jobs. SQLite serves one replica. Fair share sees
every replica's running jobs, but each replica remembers only the dispatches it
made itself: with several, an owner's job may wait one more job per replica.

An explanation job runs the binary of the training job whose model it explains,
with the explanation's arguments in place of the spec, and has no data
fingerprint. A job runs the published binary it was accepted with, from the binary store;
only a `--dev` service resolves other binaries here, with the data prefixes
recorded at submit. Nothing here opens a job's data: the trainer takes the data
fingerprint as it opens the data, and it is recorded from result.json when the job ends.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from collections import Counter

from sqlalchemy.orm import Session, sessionmaker

from railyard.api import fair_share, retries, sizing
from railyard.api.metrics import Metrics
from railyard.api.store import service
from railyard.api.store.browser_sessions import forget_expired_sessions
from railyard.api.store.models import Job, utcnow
from railyard.api.sweeps import SweepDriver
from railyard.binaries.store import BinaryStore
from railyard.errors import RailyardError, UserError
from railyard.launch import binary as binaries
from railyard.launch.job import (
    Binary,
    Executor,
    Explanation,
    FailureReason,
    JobKind,
    JobRequest,
    JobState,
    JobStatus,
    StillRunning,
    UnknownJob,
)
from railyard.launch.resources import LaunchConfig
from railyard.report import run_table
from railyard.result import read_result
from railyard.spec import parse_spec

log = logging.getLogger("railyard.dispatcher")
ACTOR = "dispatcher"
PURGE_SECONDS = 3600
MAX_FINGERPRINT_BYTES = 1 << 20  # a fingerprint of more files than this holds is not recorded
ACTIVE = (JobState.queued.value, JobState.running.value)
BACKFILL_BATCH = 200  # the complete jobs of before metrics were recorded whose metrics one tick records


def job_request(job: Job, binary: Binary) -> JobRequest:
    """What the executor runs for a job: its spec, or an explanation of its model, sized by the job's compute resource
    (an explanation's own, or the larger class an OOMKilled run moved to)."""
    git_commit = job.git_commit or binaries.stamped_commit(binary)
    prefixes = None if job.data_prefixes is None else tuple(job.data_prefixes)
    spec = parse_spec({**job.spec, "compute_resource": job.compute_resource})
    if job.kind == JobKind.explanation.value:
        explained = job.explanation
        explanation = Explanation(model=explained["model"], data=explained["data"], rows=explained.get("rows"),
                                  key_columns=tuple(explained.get("key_columns") or ()))
        return JobRequest(job.id, spec, binary, job.output, git_commit=git_commit, explanation=explanation,
                          data_prefixes=prefixes)
    return JobRequest(job.id, spec, binary, job.output, git_commit=git_commit,
                      trainer_args=tuple(a for m in job.workflow_modules for a in ("--workflow-module", m)),
                      data_prefixes=prefixes)


class Dispatcher:
    def __init__(self, sessions: sessionmaker[Session], executor: Executor, limits: fair_share.Limits,
                 metrics: Metrics, poll_seconds: float = 0.5, *, binary_store: BinaryStore | None = None,
                 dev: bool = False, max_attempts: int = 3, config: LaunchConfig | None = None):
        self.sessions = sessions
        self.executor = executor
        self.config = config  # the resource classes: where an OOMKilled run may move
        self.limits = limits
        self.served: dict[fair_share.Key, float] = {}  # when this replica last dispatched a job of each (resource, owner)
        self.metrics = metrics
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lock = threading.Lock()  # following or dispatching one job, and cancelling one, one at a time
        self._last_purge = 0.0
        self._metrics_backfilled = False
        self.binary_store = binary_store
        self.dev = dev
        self.max_attempts = max_attempts
        self.sweeps: SweepDriver | None = None  # set by create_app

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="railyard-dispatcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=30)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # keep dispatching whatever one tick hit
                log.exception("dispatcher tick failed")
            self._stop.wait(self.poll_seconds)

    def tick(self) -> None:
        if time.monotonic() - self._last_purge > PURGE_SECONDS:
            with self.sessions() as session:
                service.forget_expired_keys(session)  # Idempotency-Keys live 24 hours
                forget_expired_sessions(session)
                session.commit()
            self._last_purge = time.monotonic()
        with self.sessions() as session:
            followed = [j.id for j in service.jobs_in_states(session, states=ACTIVE) if j.dispatched_at is not None]
        for job_id in followed:
            self._follow_one(job_id)
        self._dispatch_queued()
        if not self._metrics_backfilled:
            self._backfill_metrics()

    def _backfill_metrics(self) -> None:
        """Record the metrics of BACKFILL_BATCH complete training jobs that ended before metrics were recorded on the
        job (a service upgraded in place), from their result.json; each tick until none is left."""
        with self.sessions() as session:
            pending = [(job.id, job.output) for job in service.complete_without_metrics(session, limit=BACKFILL_BATCH)]
            session.commit()  # no connection is held while result files are read
        found = {job_id: run_table.metrics_of_result(read_result(output)) for job_id, output in pending}
        with self.sessions() as session:
            for job_id, metrics in found.items():
                job = session.get(Job, job_id)
                if job is not None:
                    job.metrics = metrics
                    service.index_metrics(session, job=job)
            session.commit()
        self._metrics_backfilled = len(pending) < BACKFILL_BATCH

    def _follow_one(self, job_id: str) -> None:
        """Follow one job in a transaction of its own, skipping it while another replica holds it."""
        with self.lock, self.sessions() as session:
            job = service.lock_job(session, job_id=job_id, wait=False)
            if job is not None and job.dispatched_at is not None and not JobState(job.state).finished:
                self._follow(session, job)
            session.commit()

    def _dispatch_queued(self) -> None:
        """Dispatch the queued jobs fair_share.to_dispatch picks, in its order; one replica at a time.

        Binaries are found before any job is locked (a --dev Bazel target is built then), so a cancel
        never waits for a build; each job is then dispatched under the lock cancel takes, briefly.
        """
        with self.sessions() as turn:
            if not service.take_dispatch_turn(turn):
                return
            if self.sweeps is not None:
                self.sweeps.drive()  # its new trials are dispatched in this turn
            with self.sessions() as session:
                active = service.jobs_in_states(session, states=ACTIVE)
                session.commit()  # no connection held while binaries are found
                chosen = fair_share.to_dispatch(*self._shares(active), self.limits)
                jobs = {job.id: job for job in active}
                found: dict[tuple, Binary | RailyardError] = {}
                for pick in chosen:
                    job = jobs[pick.job_id]
                    if (job.binary, job.binary_sha256) not in found:
                        found[job.binary, job.binary_sha256] = self._binary(job)
                for pick in chosen:
                    with self.lock:
                        job = service.lock_job(session, job_id=pick.job_id, wait=False)
                        if job is not None and job.dispatched_at is None and job.state == JobState.queued.value:
                            self._dispatch(session, job, found[job.binary, job.binary_sha256])
                            if job.dispatched_at is not None:
                                self.served[pick.resource, pick.owner] = job.dispatched_at.timestamp()
                        session.commit()
            turn.commit()

    def _shares(self, active: list[Job]) -> tuple[list[fair_share.Queued], Counter, dict[fair_share.Key, float]]:
        """fair_share.to_dispatch's view of the active jobs: the queued ones oldest first, the running count and
        the last dispatch of each (resource, owner), by this replica or any (a running job's dispatch)."""
        queued = [fair_share.Queued(j.id, j.owner, j.compute_resource) for j in active
                  if j.dispatched_at is None and j.state == JobState.queued.value]
        dispatched = [j for j in active if j.dispatched_at is not None]
        running = Counter((j.compute_resource, j.owner) for j in dispatched)
        served = dict(self.served)
        for job in dispatched:
            key = (job.compute_resource, job.owner)
            served[key] = max(served.get(key, 0.0), job.dispatched_at.timestamp())
        return queued, running, served

    def _dispatch(self, session: Session, job: Job, binary: Binary | RailyardError) -> None:
        try:
            self.executor.status(job.id)
            log.info("job %s: adopted from the executor", job.id)  # dispatched before a crash
        except UnknownJob:
            try:
                if isinstance(binary, RailyardError):
                    raise binary
                request = dataclasses.replace(job_request(job, binary), memory_request_bytes=self._memory_request(session, job))
                self.executor.submit(request)
            except RailyardError as exc:
                service.transition(session, job=job, state=JobState.failed.value, reason=FailureReason.LaunchFailed, message=str(exc), actor=ACTOR)
                self.metrics.finished(job)
                return
            job.binary_sha256 = binary.sha256 or None
            job.git_commit = request.git_commit
        job.dispatched_at = utcnow()

    def _memory_request(self, session: Session, job: Job) -> int | None:
        """What the model's earlier complete runs say this one needs (railyard.api.sizing); None without any."""
        if job.kind != JobKind.training.value:
            return None
        return sizing.memory_request(service.measured_runs(session, model_name=job.model_name, owner=job.owner, limit=sizing.RUNS))

    def _binary(self, job: Job) -> Binary | RailyardError:
        """The binary a job runs, or why it cannot run: a published one from the store; under --dev, anything."""
        store = self.binary_store
        if job.binary_sha256 and store is not None and store.has(job.binary_sha256):
            return Binary(path=str(store.path(job.binary_sha256)), sha256=job.binary_sha256, target=job.binary)
        if not self.dev:
            return UserError(f"{job.binary} is not a published binary in this service's binary store")
        try:
            return binaries.resolve(job.binary)
        except RailyardError as exc:
            return exc

    def _follow(self, session: Session, job: Job) -> None:
        known = True
        try:
            status = self.executor.status(job.id)
        except UnknownJob as exc:
            known = False
            status = JobStatus(JobState.failed, reason=FailureReason.Lost, message=f"the executor has no record of the job: {exc}")
        except RailyardError as exc:  # the executor cannot tell right now: ask again next tick
            log.warning("job %s: status unavailable: %s", job.id, exc)
            return
        result = read_result(job.output) if status.state.finished else None
        larger = retries.larger_class(job, status, self.config, self.max_attempts)
        if larger is not None and self._retry(job, status, result, known, compute_resource=larger):
            return
        if retries.should_retry(job, status, self.executor, self.max_attempts) and self._retry(job, status, result, known):
            return
        if not service.transition(session, job=job, state=status.state.value, reason=status.reason, message=status.message, actor=ACTOR):
            return
        if status.exception_info:
            job.exception_info = status.exception_info
        if status.state.finished:
            self._record_result(session, job, result)
            self.metrics.finished(job)

    def _retry(self, job: Job, status: JobStatus, result: dict | None, known: bool, compute_resource: str | None = None) -> bool:
        """Start the job's trainer again (same id and output: it resumes from its checkpoints), on `compute_resource`
        when given; False when it cannot. A job that runs again already (started by another replica) is left to
        the next tick."""
        binary = self._binary(job)
        ended, ran_on = retries.attempt(job, status, result), job.compute_resource
        job.compute_resource = compute_resource or ran_on
        try:
            if isinstance(binary, RailyardError):
                raise binary
            request = job_request(job, binary)
            (self.executor.retry if known else self.executor.submit)(request)
        except StillRunning as exc:
            job.compute_resource = ran_on
            log.info("job %s: %s", job.id, exc)
            return True
        except RailyardError as exc:
            job.compute_resource = ran_on
            log.warning("job %s: cannot start it again after %s: %s", job.id, status.reason, exc)
            return False
        job.attempts = [*(job.attempts or []), ended]
        job.dispatched_at = utcnow()
        log.info("job %s: %s; attempt %d of %d starts", job.id, status.describe(), len(job.attempts) + 1, self.max_attempts)
        return True

    def _record_result(self, session: Session, job: Job, result: dict | None) -> None:
        """What result.json adds to the job's record; a field of the wrong type (a trainer's bug), or a data
        fingerprint over MAX_FINGERPRINT_BYTES of JSON, is left out."""
        if not isinstance(result, dict):
            return

        def text(block: str, field: str, longest: int) -> str | None:
            value = (result.get(block) if isinstance(result.get(block), dict) else {}).get(field)
            return value if isinstance(value, str) and len(value) <= longest else None

        job.model_id = text("result", "model_id", 128) or job.model_id  # an explanation keeps the model it was asked for
        job.git_commit = text("status", "git_commit", 64) or job.git_commit
        job.binary_sha256 = text("status", "binary_sha256", 64) or job.binary_sha256
        if isinstance(result.get("exception_info"), dict):
            job.exception_info = result["exception_info"]
        fingerprint = (result.get("status") if isinstance(result.get("status"), dict) else {}).get("data_fingerprint")
        if isinstance(fingerprint, list) and all(isinstance(f, dict) for f in fingerprint) \
                and len(json.dumps(fingerprint)) <= MAX_FINGERPRINT_BYTES:
            job.data_fingerprint = fingerprint
        job.peak_memory_bytes, job.rows_loaded = sizing.measured(result)
        if job.kind == JobKind.training.value and job.state == JobState.complete.value:
            job.metrics = run_table.metrics_of_result(result)
            service.index_metrics(session, job=job)

    def cancel(self, job_id: str, actor: str) -> None:
        """Stop a job wherever it is; its state becomes cancelled."""
        self.stop_job(job_id, actor)

    def stop_job(self, job_id: str, actor: str, *, state: JobState = JobState.cancelled, message: str | None = None) -> bool:
        """Stop a job wherever it is, ending it in `state`: cancelled by its user, or pruned by its sweep; False
        when it had ended already.

        The state is recorded under the lock (so no tick dispatches the job meanwhile) with a session of
        its own; the executor is told afterwards, outside the lock, since stopping a process may take a while.
        """
        with self.lock, self.sessions() as session:
            job = service.lock_job(session, job_id=job_id)  # waits for a replica following it right now
            if job is None or JobState(job.state).finished:
                return False
            dispatched = job.dispatched_at is not None
            reason = FailureReason.Cancelled if state == JobState.cancelled else None
            if not service.transition(session, job=job, state=state.value, reason=reason, message=message, actor=actor):
                return False
            self.metrics.finished(job)
            session.commit()
        if dispatched:
            try:
                self.executor.cancel(job_id)
            except UnknownJob:
                pass  # nothing of it runs there
        return True
