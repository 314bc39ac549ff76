"""Sweeps: POST /sweeps (and its dry run), GET /sweeps/{id}, GET /sweeps, POST /sweeps/{id}/cancel.

A sweep is checked as a job would be, once for all its trials: who may submit its base spec on which data, its
binary, and its space: each path at each end of its range (or each of its values) must make a valid spec the
executor admits. Its trials are queued by the dispatcher (railyard.api.sweeps).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from railyard.api import access
from railyard.api.data_access import prefixes_of
from railyard.api.deps import PartsDep, PrincipalDep, SessionDep
from railyard.api.problems import NotFound, TooManyRequests, Unprocessable
from railyard.api.routes.train import ACCESS_ERRORS, SPEC_ERRORS, admitted
from railyard.api.schemas import MAX_TRIALS, SweepOut, SweepPlan, SweepRequest, SweepsPage, Trial
from railyard.api.store import service
from railyard.api.store.models import Job, Sweep, utcnow
from railyard.api.sweeps import SweepState, trial_values
from railyard.api.trainer_binaries import choose
from railyard.errors import RailyardError
from railyard.spec import parse_spec
from railyard.sweep import space as spaces
from railyard.sweep import study as studies

router = APIRouter(tags=["sweeps"])
NOT_FOUND = {404: {"description": "No such sweep"}}
MAX_GRID = MAX_TRIALS  # points of a grid search: Optuna holds every one in memory
MAX_RUNNING_SWEEPS = 20  # of one owner: each is driven every dispatcher tick


def checked_space(body: SweepRequest, executor) -> tuple[dict, int, int]:
    """The space's distributions, the trials to run and how many specs were checked; 422 naming the space's path
    otherwise."""
    try:
        space = spaces.parse_space(body.space)
        points = spaces.grid_size(space) if body.sampler == studies.Sampler.grid else None
        if points is not None and points > MAX_GRID:
            raise spaces.SpaceError((), f"a grid of {points:,} points; at most {MAX_GRID:,}")
        budget = min(body.trials, points) if points is not None else body.trials
    except spaces.SpaceError as exc:
        raise Unprocessable(exc.reason, loc=("body", "space", *exc.loc)) from None
    base = body.spec.model_dump(mode="json", exclude_none=True)
    tried = spaces.extremes(space)
    for path, value in tried:
        try:
            admitted(executor, parse_spec(spaces.apply(base, {path: value})))
        except (RailyardError, Unprocessable) as exc:
            raise Unprocessable(f"{value!r} does not make a valid spec: {exc}", loc=("body", "space", path)) from None
    return space, budget, len(tried)


@router.post("/sweeps", status_code=202, response_model=SweepOut | SweepPlan, responses={**SPEC_ERRORS, **ACCESS_ERRORS})
def create_sweep(body: SweepRequest, session: SessionDep, principal: PrincipalDep, parts: PartsDep,
                 dry_run: Annotated[bool, Query(description="Check the spec, the space and the binary; queue nothing.")] = False):
    """Start a sweep: its trials run as jobs of the base spec's owner, `parallel` at a time."""
    access.authorize_submission(principal, body.spec)
    admitted(parts.executor, body.spec)
    space, budget, checked = checked_space(body, parts.executor)
    chosen = choose(session, parts.binary_store, body.binary, body.workflow_modules, dev=parts.settings.dev)
    running = session.scalar(select(func.count()).select_from(Sweep).where(Sweep.owner == body.spec.metadata.owner,
                                                                      Sweep.state == SweepState.running.value))
    if not dry_run and running >= MAX_RUNNING_SWEEPS:
        raise TooManyRequests(f"{body.spec.metadata.owner} has {running} running sweeps, the most one owner may have; "
                              "start more as they end", headers={"Retry-After": "60"})
    if dry_run:
        return JSONResponse(SweepPlan(paths=list(space), trials=budget, extremes_checked=checked).model_dump(), status_code=200)
    sweep = Sweep(id=str(uuid.uuid4()), created_at=utcnow(), state=SweepState.running.value, submitted_by=principal.owner,
                  owner=body.spec.metadata.owner, model_name=body.spec.metadata.model_name,
                  spec=body.spec.model_dump(mode="json", exclude_none=True), space=body.space, binary=chosen.reference,
                  binary_sha256=chosen.sha256, git_commit=chosen.git_commit, workflow_modules=body.workflow_modules,
                  data_prefixes=prefixes_of(principal), metric=body.metric, direction=body.direction.value, trials=budget,
                  parallel=body.parallel, sampler=body.sampler.value, pruner=body.pruner.value, seed=body.seed)
    studies.create(parts.dispatcher.sweeps.storage, sweep.id, sweep.direction)
    session.add(sweep)
    session.commit()
    return JSONResponse(sweep_out(session, sweep).model_dump(mode="json"), status_code=202)


def readable_sweep(session: Session, principal, sweep_id: str) -> Sweep:
    sweep = session.get(Sweep, sweep_id) if len(sweep_id) <= 64 else None
    if sweep is None or not principal.may_act_as(sweep.owner):
        raise NotFound(f"no sweep {sweep_id}")
    return sweep


def trial_of(sweep: Sweep, job: Job) -> Trial:
    value = (job.metrics or {}).get(sweep.metric)
    return Trial(number=job.trial_number, job_id=job.id, job_state=job.state, message=job.message,
                 value=float(value) if isinstance(value, (int, float)) else None, values=trial_values(sweep, job))


def sweep_out(session: Session, sweep: Sweep, *, with_trials: bool = True) -> SweepOut:
    counts = dict(session.execute(select(Job.state, func.count()).where(Job.sweep_id == sweep.id).group_by(Job.state)).all())
    trial_jobs, best = [], None
    if with_trials:
        trial_columns = select(Job.trial_number, Job.id, Job.state, Job.message, Job.metrics, Job.spec)  # plain rows, no transitions
        jobs = session.execute(trial_columns.where(Job.sweep_id == sweep.id).order_by(Job.trial_number)).all()
        trial_jobs = [trial_of(sweep, job) for job in jobs]
        best = next((t for t in trial_jobs if t.job_id == sweep.best_job_id), None)
    elif sweep.best_job_id:
        best_job = session.get(Job, sweep.best_job_id)
        best = trial_of(sweep, best_job) if best_job else None
    return SweepOut(sweep_id=sweep.id, state=sweep.state, message=sweep.message, owner=sweep.owner, submitted_by=sweep.submitted_by,
                    model_name=sweep.model_name, binary=sweep.binary, metric=sweep.metric, direction=sweep.direction,
                    trials=sweep.trials, parallel=sweep.parallel, sampler=sweep.sampler, pruner=sweep.pruner,
                    created_at=sweep.created_at, finished_at=sweep.finished_at, counts=counts, best=best, trial_jobs=trial_jobs)


@router.get("/sweeps/{sweep_id}", response_model=SweepOut, responses=NOT_FOUND)
def get_sweep(sweep_id: str, session: SessionDep, principal: PrincipalDep) -> SweepOut:
    """The sweep, its best trial so far and every trial asked, by number."""
    return sweep_out(session, readable_sweep(session, principal, sweep_id))


@router.get("/sweeps", response_model=SweepsPage)
def list_sweeps(session: SessionDep, principal: PrincipalDep, limit: Annotated[int, Query(ge=1, le=200)] = 50,
                cursor: Annotated[str | None, Query(max_length=512)] = None) -> SweepsPage:
    """The sweeps the principal may read, newest first; pass `next_cursor` back as `cursor` for the next page."""
    query = select(Sweep)
    if principal.owners is not None:
        query = query.where(Sweep.owner.in_(principal.owners))
    if cursor:
        try:
            created, sweep_id = service.decode_cursor(cursor)
        except (ValueError, TypeError):
            raise Unprocessable("not a cursor this service issued", loc=("query", "cursor")) from None
        query = query.where((Sweep.created_at < created) | ((Sweep.created_at == created) & (Sweep.id < sweep_id)))
    sweeps = list(session.scalars(query.order_by(Sweep.created_at.desc(), Sweep.id.desc()).limit(limit + 1)))
    following = service.encode_cursor(sweeps[limit - 1]) if len(sweeps) > limit else None
    return SweepsPage(sweeps=[sweep_out(session, s, with_trials=False) for s in sweeps[:limit]], next_cursor=following)


@router.post("/sweeps/{sweep_id}/cancel", response_model=SweepOut, responses=NOT_FOUND)
def cancel_sweep(sweep_id: str, session: SessionDep, principal: PrincipalDep, parts: PartsDep) -> SweepOut:
    """Stop asking for trials and cancel the running ones; the trials that ended keep their results."""
    sweep = readable_sweep(session, principal, sweep_id)
    session.refresh(sweep, with_for_update=True)  # no trial is queued meanwhile (SweepDriver takes the row too)
    if sweep.state == SweepState.running.value:
        sweep.state, sweep.finished_at, sweep.message = SweepState.cancelled.value, utcnow(), f"cancelled by {principal.owner}"
    active = list(session.scalars(select(Job.id).where(Job.sweep_id == sweep.id, Job.state.in_(("queued", "running")))))
    session.commit()
    for job_id in active:
        parts.dispatcher.cancel(job_id, principal.owner)
    return sweep_out(session, sweep)
