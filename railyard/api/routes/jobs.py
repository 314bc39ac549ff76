"""Job status, result, logs and listing; cancel, ship (through the ship gate) and unship."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from sqlalchemy.orm import Session

from railyard.api.auth import Principal
from railyard.api.deps import JobDep, Parts, PartsDep, PrincipalDep, SessionDep
from railyard.api import access, replays, ship_gate
from railyard.api.problems import Conflict, Forbidden, Unprocessable
from railyard.api.schemas import Explains, JobsPage, JobSummary, ResultResponse, ShipRequest, StatusResponse, TransitionOut
from railyard.api.store import service
from railyard.api.store.models import Job, utcnow
from railyard.errors import RailyardError
from railyard.launch.binary import building
from railyard.launch.job import LOG_PAGE_BYTES, JobKind
from railyard.pipeline.progress_file import read_progress
from railyard.report import run_table
from railyard.result import read_result
from railyard.run_layout import LOG, output_file
from railyard.states import JobState

router = APIRouter(tags=["jobs"])
NOT_FOUND = {404: {"description": "No such job"}}
MAX_LOG_OFFSET = 1 << 50


def status_of(job: Job) -> StatusResponse:
    transitions = [TransitionOut(created_at=t.at, job_state=t.state, reason=t.reason, actor=t.actor) for t in job.transitions]
    return StatusResponse(
        job_id=job.id, log_file=output_file(job.output, LOG), transition=transitions[-1], transitions=transitions,
        job_state=job.state, reason=job.reason, message=job.message, git_commit=job.git_commit,
        binary_sha256=job.binary_sha256, owner=job.owner, project=job.project, model_name=job.model_name,
        workflow=job.workflow, compute_resource=job.compute_resource, workers=workers_of(job), model_id=job.model_id,
        shipped=job.shipped, shipped_by=job.shipped_by, shipped_at=job.shipped_at, activity=activity_of(job), kind=job.kind,
        explains=explains_of(job), data_fingerprint=job.data_fingerprint, attempts=job.attempts or [], replays_job_id=job.replays_job_id,
        sweep_id=job.sweep_id, trial_number=job.trial_number,
    )


def activity_of(job: Job) -> str | None:
    """What a queued job waits on that its state does not say: its --dev Bazel target being built."""
    if job.state == JobState.queued.value and job.dispatched_at is None and building(job.binary):
        return f"building {job.binary}"
    return None


def workers_of(job: Job) -> int:
    return int((job.spec or {}).get("workers") or 1) if job.kind != JobKind.explanation.value else 1


def explains_of(job: Job) -> Explains | None:
    if job.kind != JobKind.explanation.value or not job.explanation:
        return None
    return Explains(model_id=job.model_id, training_job_id=job.explains_job_id, data=job.explanation["data"],
                    rows=job.explanation.get("rows"), key_columns=job.explanation.get("key_columns") or [])


def result_file(job: Job) -> dict:
    """The finished job's result.json, or {} while it runs or when it wrote none."""
    return (read_result(job.output) or {}) if job.state in service.FINISHED else {}


def summary_of(job: Job) -> JobSummary:
    duration = None
    if job.started_at:
        duration = max(((job.finished_at or utcnow()) - job.started_at).total_seconds(), 0.0)
    return JobSummary(
        job_id=job.id, created_at=job.created_at, finished_at=job.finished_at, duration_seconds=duration,
        job_state=job.state, reason=job.reason, message=job.message, owner=job.owner, project=job.project, model_name=job.model_name,
        workflow=job.workflow, compute_resource=job.compute_resource, workers=workers_of(job), model_id=job.model_id,
        shipped=job.shipped, shipped_by=job.shipped_by if job.shipped else None, shipped_at=job.shipped_at if job.shipped else None,
        kind=job.kind, metrics=job.metrics,
        custom_params=run_table.custom_params_of(job.spec) if job.kind == JobKind.training.value else {},
        sweep_id=job.sweep_id, trial_number=job.trial_number,
    )


@router.get("/job/{job_id}/status", response_model=StatusResponse, responses=NOT_FOUND)
async def status(job: JobDep) -> StatusResponse:
    answer = status_of(job)  # the job and its transitions were read in JobDep, in the thread pool
    if job.state == JobState.running.value:
        answer.progress = await run_in_threadpool(read_progress, job.output)
    return answer


@router.get("/job/{job_id}/result", response_model=ResultResponse, responses=NOT_FOUND)
def result(job: JobDep, session: SessionDep) -> ResultResponse:
    """The talk's result shape: holdout scores and labels paths, model id, metrics, per-step timings; for an
    explanation job, its `kind`, the explained `model_id` and the paths of its explanations and importance;
    for a replay, how it compares with the job it replays."""
    body = result_file(job)
    result, info = body.get("result"), body.get("exception_info")  # the job wrote them: only objects are passed on
    return ResultResponse(
        status=status_of(job),
        result=result if job.state == JobState.complete.value and isinstance(result, dict) else None,
        exception_info=(info if isinstance(info, dict) else None) or job.exception_info,
        replay=replay_of(session, job, body),
    )


def replay_of(session: Session, job: Job, body: dict) -> dict | None:
    """A replay's comparison with the job it replays (which has the replay's owner, so the caller may read it too)."""
    if not job.replays_job_id:
        return None
    original = service.get_job(session, job_id=job.replays_job_id)
    session.commit()
    if original is None:
        return None
    return replays.compare(original, job, result_file(original), body)


@router.get("/job/{job_id}/logs", response_class=PlainTextResponse, responses=NOT_FOUND)
def logs(job: JobDep, parts: PartsDep, offset: Annotated[int, Query(ge=0, le=MAX_LOG_OFFSET)] = 0,
         limit: Annotated[int, Query(ge=1, le=LOG_PAGE_BYTES)] = LOG_PAGE_BYTES) -> PlainTextResponse:
    """At most `limit` bytes of the trainer's log from byte `offset`; the X-Log-Offset header is where the next read starts."""
    data, following = b"", offset
    if job.dispatched_at:
        try:
            data, following = parts.executor.read_log(job.id, offset, limit)
        except RailyardError:
            pass
    return PlainTextResponse(data.decode(errors="replace"), headers={"X-Log-Offset": str(following)})


def in_utc(name: str, moment: dt.datetime | None) -> dt.datetime | None:
    try:
        return service.utc(moment) if moment else None
    except ValueError as exc:
        raise Unprocessable(str(exc), loc=("query", name)) from None


@router.get("/jobs", response_model=JobsPage)
def list_jobs(
    session: SessionDep,
    principal: PrincipalDep,
    owner: Annotated[str | None, Query(max_length=256)] = None,
    project: Annotated[str | None, Query(max_length=256)] = None,
    model_name: Annotated[str | None, Query(max_length=512)] = None,
    workflow: Annotated[str | None, Query(max_length=256)] = None,
    state: JobState | None = None,
    kind: JobKind | None = None,
    shipped: Annotated[bool | None, Query(description="true: only jobs whose model is shipped")] = None,
    created_after: dt.datetime | None = None,
    created_before: dt.datetime | None = None,
    sweep_id: Annotated[str | None, Query(max_length=64, description="only the trials of this sweep")] = None,
    model_name_contains: Annotated[str | None, Query(min_length=1, max_length=512, description="model names with this substring")] = None,
    sort: Annotated[str, Query(pattern=r"^(created|metric:[A-Za-z0-9_.@-]{1,64})$", description=(
        "created: newest first; metric:NAME: by that holdout metric, best first (lowest first for a loss or error), "
        "only the complete training jobs that recorded it"))] = "created",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> JobsPage:
    """Newest first, or by a metric; pass `next_cursor` back as `cursor` for the next page."""
    created_after, created_before = in_utc("created_after", created_after), in_utc("created_before", created_before)
    where = service.JobFilter(owner, project, model_name, workflow, state.value if state else None, created_after, created_before, owners=principal.owners,
                              kind=kind.value if kind else None, shipped=shipped, sweep_id=sweep_id, model_name_contains=model_name_contains,
                              metric=sort.removeprefix("metric:") if sort != "created" else None)
    try:
        jobs, following = service.list_jobs(session, where=where, limit=limit, cursor=cursor)
    except (ValueError, TypeError, OverflowError):
        raise Unprocessable("not a cursor this service issued", loc=("query", "cursor")) from None
    # Serialized once, here: a page is built from validated summaries, which FastAPI would validate and encode again.
    return Response(JobsPage(jobs=[summary_of(j) for j in jobs], next_cursor=following).model_dump_json(), media_type="application/json")


def change(action: str, job: Job, session: Session, principal: Principal, parts: Parts,
           override_reason: str | None = None) -> StatusResponse:
    """Cancel, ship or unship a job the principal may reach; the API's buttons and the dashboard's call this."""
    if action == "cancel":
        session.rollback()  # give the connection back while the dispatcher cancels
        parts.dispatcher.cancel(job.id, principal.owner)
        session.refresh(job)
        session.commit()  # the connection goes back before the response is written
        return status_of(job)
    if action == "ship":
        return ship_job(job, session, principal, override_reason, parts.write_lock)
    service.record_ship(session, job=job, action=action, actor=principal.owner)
    session.commit()
    return status_of(job)


def ship_job(job: Job, session: Session, principal: Principal, override_reason: str | None, write_lock) -> StatusResponse:
    """Ship the job's model through its ship gate; a refusal is kept in the model's history before the 409. Two
    ships of one model are judged one after the other (PostgreSQL: a lock per model; SQLite: its one writer)."""
    if job.state != JobState.complete.value:
        raise Conflict(f"job {job.id} is {job.state}; only a complete job can be shipped")
    if job.kind != JobKind.training.value:
        raise Conflict(f"job {job.id} is an explanation; only a training job's model can be shipped")
    with write_lock:
        return _judged_ship(job, session, principal, override_reason)


def _judged_ship(job: Job, session: Session, principal: Principal, override_reason: str | None) -> StatusResponse:
    service.hold_model_ships(session, owner=job.owner, model_name=job.model_name)
    policy = service.ship_policy(session, owner=job.owner, model_name=job.model_name)
    verdict = ship_gate.judge(policy, job, service.champion(session, owner=job.owner, model_name=job.model_name)) if policy else None
    if verdict is not None and not verdict.allowed:
        try:
            if override_reason is None:
                raise Conflict(f"the ship policy of {job.model_name} refuses job {job.id}: {verdict.text}")
            access.authorize_override(principal, policy)
        except (Conflict, Forbidden):
            service.record_ship(session, job=job, action=ship_gate.ShipAction.refused.value, actor=principal.owner,
                                verdict=verdict.text, override_reason=override_reason)
            session.commit()
            raise
    service.record_ship(session, job=job, action=ship_gate.ShipAction.ship.value, actor=principal.owner,
                        verdict=verdict.text if verdict else None, override_reason=override_reason)
    session.commit()
    return status_of(job)


ACTIONS = ("cancel", "ship", "unship")


@router.post("/job/{job_id}/cancel", response_model=StatusResponse, responses=NOT_FOUND)
def cancel(session: SessionDep, principal: PrincipalDep, job: JobDep, parts: PartsDep) -> StatusResponse:
    """Stop the job wherever it is; its state becomes cancelled."""
    return change("cancel", job, session, principal, parts)


@router.post("/job/{job_id}/ship", response_model=StatusResponse, responses={
    **NOT_FOUND, 403: {"description": "An override by whom the policy does not allow"},
    409: {"description": "Not complete, or refused by the model's ship policy (the detail names the metric, both values "
                         "and the champion's job)"}})
def ship(session: SessionDep, principal: PrincipalDep, job: JobDep, parts: PartsDep, body: ShipRequest | None = None) -> StatusResponse:
    """Mark the job's model SHIPPED, recording who and when, once its model's ship gate allows it (or an
    `override_reason` from whom may give one)."""
    return change("ship", job, session, principal, parts, body.override_reason if body else None)


@router.post("/job/{job_id}/unship", response_model=StatusResponse, responses=NOT_FOUND)
def unship(session: SessionDep, principal: PrincipalDep, job: JobDep, parts: PartsDep) -> StatusResponse:
    """Mark the job's model NOT SHIPPED, recording who and when."""
    return change("unship", job, session, principal, parts)
