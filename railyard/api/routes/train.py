"""POST /train (and its dry run, POST /validate): accept a training spec and queue a job.

The routes are async (a dry run awaits a slot for the trainer's plan). Queueing
a job is point work (railyard.api.point_work); a dry run's lookups run in the
thread pool.
"""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from railyard.api.access import authorize_submission
from railyard.api.data_access import prefixes_of
from railyard.api.auth import Principal
from railyard.api.deps import Parts, PartsDep, PrincipalDep, SessionDep, point_work
from railyard.api.problems import Unprocessable
from railyard.api.queueing import earlier_answer, queue, training_job
from railyard.api.schemas import SizingOut, TrainRequest, TrainResponse, ValidateResponse
from railyard.api.sizing import RUNS, size
from railyard.api.store import service
from railyard.api.store.models import Job
from railyard.api.trainer_binaries import ChosenBinary, choose, trainer_command
from railyard.binaries.store import BinaryStore
from railyard.errors import UserError
from railyard.launch.job import Executor
from railyard.spec import TrainingSpec

router = APIRouter(tags=["training"])
SPEC_ERRORS = {422: {"description": "The spec is invalid, with the JSON path of every bad field"}}
ACCESS_ERRORS = {401: {"description": "No valid token"},
                 403: {"description": "Not this principal's owner or team, or data outside its data prefixes"},
                 429: {"description": "This principal has too many validations under way, or the job's owner too many "
                                      "queued jobs (max_queued_per_owner)"},
                 503: {"description": "Every validation slot is busy"}}


async def plan_on_data(body: TrainRequest, session: Session, principal: Principal, parts: Parts) -> ValidateResponse:
    """Check who may run what on which data, then let the trainer binary plan the spec in its own process."""
    authorize_submission(principal, body.spec)
    admitted(parts.executor, body.spec)
    chosen = await run_in_threadpool(choose_and_release, session, parts.binary_store, body, parts.settings.dev)
    try:
        command = trainer_command(chosen) if chosen.path else await run_in_threadpool(trainer_command, chosen)  # --dev may build
    except UserError as exc:
        raise Unprocessable(str(exc), loc=("body", "binary")) from None
    counts = await parts.planner.plan(principal.owner, command, body.spec, body.workflow_modules, prefixes_of(principal))
    runs = await run_in_threadpool(measured_runs, session, body.spec)
    sizing = size(runs, counts["rows_after_filters"], body.spec.compute_resource.value, parts.config)
    return ValidateResponse(**{k: counts[k] for k in ("rows_in", "rows_after_filters", "training_rows", "holdout_rows")},
                            compute_resource=body.spec.compute_resource.value,
                            sizing=SizingOut(**dataclasses.asdict(sizing)) if sizing else None)


def measured_runs(session: Session, spec) -> list[Job]:
    try:
        return service.measured_runs(session, model_name=spec.metadata.model_name, owner=spec.metadata.owner, limit=RUNS)
    finally:
        session.close()


def admitted(executor: Executor, spec: TrainingSpec) -> None:
    """What the executor can run (Executor.admit), as a 422 naming the spec's field."""
    try:
        executor.admit(spec)
    except UserError as exc:
        field, _, message = str(exc).partition(": ")
        raise Unprocessable(message, loc=("body", "spec", field)) from None


def choose_and_release(session: Session, store: BinaryStore, body: TrainRequest, dev: bool) -> ChosenBinary:
    """The binary the request names; the session's connection goes back before the plan runs."""
    try:
        return choose(session, store, body.binary, body.workflow_modules, dev=dev)
    finally:
        session.close()


@router.post("/validate", response_model=ValidateResponse, responses={**SPEC_ERRORS, **ACCESS_ERRORS})
async def validate(body: TrainRequest, session: SessionDep, principal: PrincipalDep, parts: PartsDep) -> ValidateResponse:
    """Check the spec against its data without training: row counts after filters and split."""
    return await plan_on_data(body, session, principal, parts)


@router.post("/train", status_code=202, response_model=TrainResponse | ValidateResponse,
             responses={**SPEC_ERRORS, **ACCESS_ERRORS,
                        409: {"description": "Idempotency-Key reused with a different body"}})
async def train(
    body: TrainRequest,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    parts: PartsDep,
    dry_run: Annotated[bool, Query(description="Validate against the data and return row counts; queue nothing.")] = False,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
):
    if dry_run:
        counts = await plan_on_data(body, session, principal, parts)
        return JSONResponse(counts.model_dump(), status_code=200)
    return await point_work(request, queue_job, body, session, principal, parts, idempotency_key)


def queue_job(body: TrainRequest, session: Session, principal: Principal, parts: Parts, idempotency_key: str | None) -> JSONResponse:
    """Record the job as queued, or replay the first answer to its Idempotency-Key."""
    spec, settings, executor = body.spec, parts.settings, parts.executor
    authorize_submission(principal, spec)
    admitted(executor, spec)
    chosen = choose(session, parts.binary_store, body.binary, body.workflow_modules, dev=settings.dev)
    request_hash = hashlib.sha256(body.model_dump_json().encode()).hexdigest() if idempotency_key else ""
    if idempotency_key:
        earlier = earlier_answer(session, idempotency_key, principal.owner, request_hash)
        if earlier is not None:
            return earlier

    job_id = str(uuid.uuid4())
    output = executor.output_uri(job_id)
    job = training_job(spec, job_id=job_id, submitted_by=principal.owner, binary=chosen.reference, binary_sha256=chosen.sha256,
                       git_commit=chosen.git_commit, workflow_modules=body.workflow_modules, output=output,
                       data_prefixes=prefixes_of(principal))
    return queue(session, parts.write_lock, job, TrainResponse(job_id=job_id).model_dump(), principal, parts.metrics, idempotency_key,
                 request_hash, settings.max_queued_per_owner)
