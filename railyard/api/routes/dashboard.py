"""The dashboard: server-rendered HTML of the job list (like the talk's "Railyard in action") and job pages.

Browsers sign in once with their token (see routes/signin.py); every page
shows only the jobs the principal may read, and the forms that change a job
carry the session's CSRF token.
"""

from __future__ import annotations

from typing import Annotated

import jinja2
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from railyard.api.deps import DispatcherDep, JobPageDep, PagePrincipalDep, PrincipalDep, SessionDep
from railyard.api.routes.jobs import ACTIONS, change, result_file, status_of, summary_of
from railyard.api.store import service

router = APIRouter(include_in_schema=False)
# Package data, read through importlib.resources: found in a pex or an installed wheel too.
templates = Jinja2Templates(env=jinja2.Environment(loader=jinja2.PackageLoader("railyard.api", "templates"),
                                                   autoescape=jinja2.select_autoescape()))


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


def page(request: Request, principal, name: str, context: dict):
    signed_in = getattr(request.state, "session_id", None) is not None
    return templates.TemplateResponse(request, name, {
        **context, "principal": principal, "signed_in": signed_in, "csrf_token": getattr(request.state, "csrf_token", ""),
    })


@router.get("/", response_class=HTMLResponse)
def job_list(
    request: Request,
    session: SessionDep,
    principal: PagePrincipalDep,
    owner: Annotated[str | None, Query(max_length=256)] = None,
    model_name: Annotated[str | None, Query(max_length=512)] = None,
    workflow: Annotated[str | None, Query(max_length=256)] = None,
    state: Annotated[str | None, Query(max_length=16)] = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
):
    where = service.JobFilter(owner or None, None, model_name or None, workflow or None, state if state in STATES else None,
                              owners=principal.owners)
    try:
        jobs, following = service.list_jobs(session, where=where, limit=100, cursor=cursor)
    except (ValueError, TypeError):
        jobs, following = [], None
    return page(request, principal, "jobs.html", {
        "jobs": [summary_of(j) for j in jobs], "next_cursor": following, "states": STATES,
        "filters": {"owner": owner or "", "model_name": model_name or "", "workflow": workflow or "", "state": state or ""},
    })


@router.get("/ui/job/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, principal: PagePrincipalDep, job: JobPageDep):
    body = result_file(job)
    return page(request, principal, "job.html", {
        "job": summary_of(job), "status": status_of(job),
        "result": body.get("result") if job.state == "complete" else None,
        "exception_info": body.get("exception_info") or job.exception_info,
    })


@router.post("/ui/job/{job_id}/{action}")
def job_action(action: str, session: SessionDep, principal: PrincipalDep, job: JobPageDep, dispatcher: DispatcherDep):
    """The job page's buttons: cancel, ship, unship (the CSRF token was checked with the principal)."""
    if action in ACTIONS:
        change(action, job, session, principal, dispatcher)
    return RedirectResponse(f"/ui/job/{job.id}", status_code=303)
