"""The dashboard: server-rendered HTML of the job list (like the talk's "Railyard in action") and job pages."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from railyard.api.deps import PrincipalDep, SessionDep, job_or_404
from railyard.api.routes.jobs import result_file, status_of, summary_of
from railyard.api.store import service

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.0f} seconds"
    if seconds < 3600:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds / 3600:.1f} hours"


templates.env.filters["duration"] = duration
STATES = ("queued", "running", "complete", "failed", "cancelled")


@router.get("/", response_class=HTMLResponse)
def job_list(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    owner: Annotated[str | None, Query(max_length=256)] = None,
    model_name: Annotated[str | None, Query(max_length=512)] = None,
    workflow: Annotated[str | None, Query(max_length=256)] = None,
    state: Annotated[str | None, Query(max_length=16)] = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
):
    where = service.JobFilter(owner or None, None, model_name or None, workflow or None, state if state in STATES else None)
    try:
        jobs, following = service.list_jobs(session, where=where, limit=100, cursor=cursor)
    except (ValueError, TypeError):
        jobs, following = [], None
    return templates.TemplateResponse(request, "jobs.html", {
        "jobs": [summary_of(j) for j in jobs], "next_cursor": following, "states": STATES,
        "filters": {"owner": owner or "", "model_name": model_name or "", "workflow": workflow or "", "state": state or ""},
    })


@router.get("/ui/job/{job_id}", response_class=HTMLResponse)
def job_page(job_id: str, request: Request, session: SessionDep, principal: PrincipalDep):
    job = job_or_404(session, job_id)
    body = result_file(job)
    return templates.TemplateResponse(request, "job.html", {
        "job": summary_of(job), "status": status_of(request, job), "result": body.get("result"),
        "exception_info": body.get("exception_info") or job.exception_info,
    })
