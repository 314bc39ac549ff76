"""Dependencies the routes declare: a database session, the authenticated principal, the jobs it may reach, and
the service's parts (`Parts`: settings, executor, dispatcher, planner, binary store, metrics, ...).

Queries stay off the event loop: on PostgreSQL a connection may have to be
waited for (up to the pool's timeout), and the loop serves every other request
meanwhile. Dependencies that query are sync (FastAPI runs them in its thread
pool) or hand the query to the pool. Reading one job and queueing one are
`point_work`: in threads of their own on PostgreSQL, in place on SQLite, where
they take a fraction of a millisecond and never wait for a connection.

The principal is found before any route runs (railyard.api.authentication),
from a bearer token or a browser's session cookie. A cookie-authenticated
request that changes something must carry the session's CSRF token, in the
`X-CSRF-Token` header or the `csrf_token` form field.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qs, urlsplit

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from railyard.api import access
from railyard.api.auth import Principal, TokenFile
from railyard.api.authentication import Identity
from railyard.api.dispatcher import Dispatcher
from railyard.api.metrics import Metrics
from railyard.api.planning import Planner
from railyard.api.problems import BadRequest, Forbidden, TooLarge, Unauthenticated
from railyard.api.settings import Settings
from railyard.api.store import service
from railyard.api.store.models import Job
from railyard.api.throttle import FailureThrottle
from railyard.binaries.store import BinaryStore
from railyard.launch.job import Executor
from railyard.launch.resources import LaunchConfig

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
MAX_FORM_FIELDS = 32


def unauthenticated() -> Unauthenticated:
    return Unauthenticated("a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"})


class SignInRequired(Exception):
    """A browser without a session asked for a page: send it to the sign-in page."""

    def __init__(self, next_path: str):
        self.next_path = next_path


async def get_session(request: Request) -> AsyncIterator[Session]:
    # Async: opening a session does no I/O. Closing one that still holds a connection does (a rollback).
    session = request.app.state.sessions()
    try:
        yield session
    finally:
        if session.in_transaction():
            await run_in_threadpool(session.close)
        else:
            session.close()


async def form_fields(request: Request) -> dict[str, str]:
    """The fields of a URL-encoded form post (the only kind the dashboard sends); {} for any other body."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return {}
    # Read whole, even where a route streams its body (a binary's 2 GiB): only a form of a declared, small length.
    most, declared = request.app.state.parts.settings.max_body_bytes, request.headers.get("content-length", "")
    if not declared.isdigit() or int(declared) > most:
        raise TooLarge(f"a form must declare its length (Content-Length) and be at most {most} bytes")
    try:
        fields = parse_qs((await request.body()).decode(errors="replace"), max_num_fields=MAX_FORM_FIELDS)
    except ValueError:
        raise BadRequest(f"a form may have at most {MAX_FORM_FIELDS} fields") from None
    return {name: values[0] for name, values in fields.items()}


async def _csrf_ok(request: Request, expected: str) -> bool:
    presented = request.headers.get("x-csrf-token")
    if presented is None:
        presented = (await form_fields(request)).get("csrf_token")
    return isinstance(presented, str) and hmac.compare_digest(presented.encode(), expected.encode())


def same_origin(request: Request) -> bool:
    """Whether the request came from this site's own pages (or from no browser page at all).

    Browsers say where a request comes from in `Sec-Fetch-Site`, whatever the referrer policy (under
    `no-referrer` a form's `Origin` is `null`); older ones only in `Origin`."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("origin")
    return origin is None or urlsplit(origin).netloc == request.headers.get("host")


async def get_principal(request: Request) -> Principal:
    """The principal `authentication.Authenticate` found; 401 without one. A browser session's request that changes
    something must carry its CSRF token; without tokens, a change must come from this site's own pages."""
    identity: Identity | None = request.state.identity
    if identity is None:
        raise unauthenticated()
    if request.method not in SAFE_METHODS:
        if identity.principal.anonymous and not same_origin(request):
            raise Forbidden("a request from another site may not change anything here")  # a page attacking a laptop's service
        if identity.session_id is not None and not await _csrf_ok(request, identity.csrf_token):
            raise Forbidden("this form is missing its CSRF token; reload the page and try again")
    if identity.session_id is not None:
        request.state.csrf_token = identity.csrf_token
        request.state.session_id = identity.session_id
    return identity.principal


async def get_page_principal(request: Request) -> Principal:
    """The principal of a dashboard page; a browser that is not signed in is sent to sign in."""
    try:
        return await get_principal(request)
    except Unauthenticated:
        if request.method in SAFE_METHODS:
            raise SignInRequired(request.url.path) from None
        raise


SessionDep = Annotated[Session, Depends(get_session)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
PagePrincipalDep = Annotated[Principal, Depends(get_page_principal)]


def job_or_404(session: Session, job_id: str, principal: Principal) -> Job:
    job = access.authorize_job(principal, service.get_job(session, job_id=job_id), job_id)
    session.commit()  # ends the read: no connection is held while the request waits for a thread or a lock
    return job


async def point_work(request: Request, work, *args):
    """`work(*args)`, a request's point work on the database (railyard.api.point_work)."""
    return await request.app.state.point_work.run(work, *args)


async def readable_job(job_id: str, request: Request, session: SessionDep, principal: PrincipalDep) -> Job:
    return await point_work(request, job_or_404, session, job_id, principal)


async def readable_job_page(job_id: str, request: Request, session: SessionDep, principal: PagePrincipalDep) -> Job:
    return await point_work(request, job_or_404, session, job_id, principal)


JobDep = Annotated[Job, Depends(readable_job)]
JobPageDep = Annotated[Job, Depends(readable_job_page)]


@dataclass(frozen=True)
class Parts:
    """The service's parts, built once by create_app: what routes use besides their request, session and principal.
    One dependency for all of them: each dependency a route declares costs every request it serves."""

    settings: Settings
    config: LaunchConfig  # the resource classes
    executor: Executor
    dispatcher: Dispatcher
    planner: Planner
    binary_store: BinaryStore
    metrics: Metrics
    write_lock: AbstractContextManager  # db.write_lock
    tokens: TokenFile | None
    throttle: FailureThrottle


async def get_parts(request: Request) -> Parts:
    return request.app.state.parts


PartsDep = Annotated[Parts, Depends(get_parts)]
