"""Queueing a new job once: its Idempotency-Key's first answer is replayed, and two racing requests with one key make one job.

An owner (a person or a team) has at most `max_queued_per_owner` queued jobs: beyond, 429 with Retry-After.
The count and the new job's commit happen together, one submit of the owner at a time (SQLite's one writer
under the write lock; on PostgreSQL, a transaction-scoped advisory lock per owner), so concurrent submits
cannot pass the limit together.
"""

from __future__ import annotations

from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from railyard.api.auth import Principal
from railyard.api.metrics import Metrics
from railyard.api.problems import Conflict, TooManyRequests
from railyard.api.store import service
from railyard.api.store.models import Job, utcnow
from railyard.spec import TrainingSpec
from railyard.states import JobState

RETRY_AFTER = "30"  # seconds before a refused submit is worth trying again


def training_job(spec: TrainingSpec, *, job_id: str, submitted_by: str, binary: str, binary_sha256: str | None,
                 git_commit: str | None, workflow_modules: list[str], output: str, data_prefixes: list | None,
                 sweep_id: str | None = None, trial_number: int | None = None) -> Job:
    """A new queued training job of `spec`: what POST /train and a sweep's trials queue alike."""
    return Job(
        id=job_id, created_at=utcnow(), state=JobState.queued.value, submitted_by=submitted_by,
        owner=spec.metadata.owner, project=spec.metadata.project, trainer=spec.metadata.trainer,
        model_name=spec.metadata.model_name, workflow=spec.train.workflow_name,
        compute_resource=spec.compute_resource.value, spec=spec.model_dump(mode="json", exclude_none=True),
        spec_hash=spec.spec_hash(), binary=binary, binary_sha256=binary_sha256, git_commit=git_commit,
        workflow_modules=workflow_modules, output=output, data_prefixes=data_prefixes, sweep_id=sweep_id, trial_number=trial_number,
    )


def earlier_answer(session: Session, key: str, principal: str, request_hash: str) -> JSONResponse | None:
    """The first response to this Idempotency-Key, or None; 409 when the body differs from the first one."""
    earlier = service.remembered_response(session, key=key, principal=principal)
    if earlier is None:
        return None
    if earlier.request_hash != request_hash:
        raise Conflict(f"Idempotency-Key {key!r} was used with a different request body")
    return JSONResponse(earlier.response, status_code=earlier.status_code)


def queue(session: Session, write_lock, job: Job, response: dict, principal: Principal, metrics: Metrics,
          idempotency_key: str | None, request_hash: str, max_queued: int) -> JSONResponse:
    """Commit `job` as queued with `response` as its key's answer (202), or the answer of the request
    with the same key that committed first; 429 when its owner already has `max_queued` queued jobs."""
    try:
        with write_lock:
            service.hold_owner_queue(session, owner=job.owner)
            if service.count_queued(session, owner=job.owner, up_to=max_queued) >= max_queued:
                session.rollback()
                raise TooManyRequests(f"{job.owner} has {max_queued} queued jobs, the most one owner may have "
                                      "(max_queued_per_owner); submit more as they start", headers={"Retry-After": RETRY_AFTER})
            service.create_job(session, job=job, actor=principal.owner)
            if idempotency_key:
                service.remember_response(session, key=idempotency_key, principal=principal.owner,
                                          request_hash=request_hash, status_code=202, response=response)
            session.commit()
    except IntegrityError:
        session.rollback()  # a concurrent request with the same Idempotency-Key won the race
        earlier = earlier_answer(session, idempotency_key, principal.owner, request_hash) if idempotency_key else None
        if earlier is None:
            raise
        return earlier
    metrics.created.labels(job.compute_resource).inc()
    return JSONResponse(response, status_code=202)
