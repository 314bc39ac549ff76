"""Dependencies the routes declare: a database session and the authenticated principal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session

from railyard.api.auth import ANONYMOUS, Principal
from railyard.api.store import service
from railyard.api.store.models import Job


async def get_session(request: Request) -> AsyncIterator[Session]:
    # Async so that FastAPI runs it on the event loop: opening a session does no I/O.
    with request.app.state.sessions() as session:
        yield session


async def get_principal(request: Request) -> Principal:
    tokens = request.app.state.tokens
    if tokens is None:
        return ANONYMOUS
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    principal = tokens.principal(presented.strip()) if scheme.lower() == "bearer" and presented else None
    if principal is None:
        raise HTTPException(401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    return principal


SessionDep = Annotated[Session, Depends(get_session)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]


def job_or_404(session: Session, job_id: str) -> Job:
    job = service.get_job(session, job_id=job_id)
    if job is None:
        raise HTTPException(404, f"no job {job_id}")
    return job


def require_owner(principal: Principal, job: Job, action: str) -> None:
    if not principal.may_act_as(job.owner):
        raise HTTPException(403, f"{principal.owner} may not {action} a job owned by {job.owner}")
