"""POST /train (and its dry run, POST /validate): accept a training spec and queue a job."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError

from railyard.api.access import authorize_submission
from railyard.api.auth import Principal
from railyard.api.deps import PrincipalDep, SessionDep
from railyard.api.schemas import TrainRequest, TrainResponse, ValidateResponse
from railyard.api.store import service
from railyard.api.store.models import Job, utcnow
from railyard.api.trainer_binaries import ChosenBinary, choose, trainer_command
from railyard.errors import UserError
from railyard.states import JobState
from railyard.launch.render import output_uri

router = APIRouter(tags=["training"])
SPEC_ERRORS = {422: {"description": "The spec is invalid, with the JSON path of every bad field"}}
ACCESS_ERRORS = {401: {"description": "No valid token"},
                 403: {"description": "Not this principal's owner or team, or data outside its data prefixes"},
                 429: {"description": "This principal has too many validations under way"},
                 503: {"description": "Every validation slot is busy"}}


async def plan_on_data(request: Request, session, principal: Principal, body: TrainRequest) -> ValidateResponse:
    """Check who may run what on which data, then let the trainer binary plan the spec in its own process."""
    authorize_submission(principal, body.spec)
    chosen = choose_binary(request, session, body)
    session.close()  # hold no connection while the plan runs
    try:
        command = trainer_command(chosen) if chosen.path else await run_in_threadpool(trainer_command, chosen)  # --dev may build
    except UserError as exc:
        raise HTTPException(422, [{"loc": ["body", "binary"], "msg": str(exc), "type": "value_error"}]) from None
    counts = await request.app.state.planner.plan(principal.owner, command, body.spec, body.workflow_modules)
    return ValidateResponse(**{k: counts[k] for k in ("rows_in", "rows_after_filters", "training_rows", "holdout_rows")},
                            compute_resource=body.spec.compute_resource.value)


def choose_binary(request: Request, session, body: TrainRequest) -> ChosenBinary:
    return choose(session, request.app.state.binary_store, body.binary, body.workflow_modules, dev=request.app.state.settings.dev)


def replay(session, key: str, principal: str, request_hash: str) -> JSONResponse | None:
    """The first response to this Idempotency-Key, or None; 409 when the body differs from the first one."""
    earlier = service.remembered_response(session, key=key, principal=principal)
    if earlier is None:
        return None
    if earlier.request_hash != request_hash:
        raise HTTPException(409, f"Idempotency-Key {key!r} was used with a different request body")
    return JSONResponse(earlier.response, status_code=earlier.status_code)


@router.post("/validate", response_model=ValidateResponse, responses={**SPEC_ERRORS, **ACCESS_ERRORS})
async def validate(body: TrainRequest, request: Request, session: SessionDep, principal: PrincipalDep) -> ValidateResponse:
    """Check the spec against its data without training: row counts after filters and split."""
    return await plan_on_data(request, session, principal, body)


@router.post("/train", status_code=202, response_model=TrainResponse | ValidateResponse,
             responses={**SPEC_ERRORS, **ACCESS_ERRORS,
                        409: {"description": "Idempotency-Key reused with a different body"}})
async def train(
    body: TrainRequest,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    dry_run: Annotated[bool, Query(description="Validate against the data and return row counts; queue nothing.")] = False,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
):
    # Async on purpose: recording a job is a short local transaction, cheaper than a hop to the thread pool.
    spec = body.spec
    if dry_run:
        counts = await plan_on_data(request, session, principal, body)
        return JSONResponse(counts.model_dump(), status_code=200)
    authorize_submission(principal, spec)
    chosen = choose_binary(request, session, body)
    request_hash = hashlib.sha256(body.model_dump_json().encode()).hexdigest()
    if idempotency_key:
        earlier = replay(session, idempotency_key, principal.owner, request_hash)
        if earlier is not None:
            return earlier

    settings, config = request.app.state.settings, request.app.state.launch_config
    job_id = str(uuid.uuid4())
    if settings.executor == "kubernetes":
        output = output_uri(config, job_id)
    else:
        output = settings.artifacts.rstrip("/") + f"/{job_id}" if "://" in settings.artifacts else str(Path(settings.artifacts).absolute() / job_id)
    job = Job(
        id=job_id, created_at=utcnow(), state=JobState.queued.value, submitted_by=principal.owner,
        owner=spec.metadata.owner, project=spec.metadata.project, trainer=spec.metadata.trainer,
        model_name=spec.metadata.model_name, workflow=spec.train.workflow_name,
        compute_resource=spec.compute_resource.value, spec=json.loads(spec.to_json()), spec_hash=spec.spec_hash(),
        binary=chosen.reference, binary_sha256=chosen.sha256, git_commit=chosen.git_commit,
        workflow_modules=body.workflow_modules, output=output,
    )
    service.create_job(session, job=job, actor=principal.owner)
    response = TrainResponse(job_id=job_id).model_dump()
    if idempotency_key:
        service.remember_response(session, key=idempotency_key, principal=principal.owner,
                                  request_hash=request_hash, status_code=202, response=response)
    try:
        with request.app.state.write_lock:
            session.commit()
    except IntegrityError:
        session.rollback()  # a concurrent request with the same Idempotency-Key won the race
        earlier = replay(session, idempotency_key, principal.owner, request_hash) if idempotency_key else None
        if earlier is None:
            raise
        return earlier
    request.app.state.metrics.created.labels(job.compute_resource).inc()
    return JSONResponse(response, status_code=202)
