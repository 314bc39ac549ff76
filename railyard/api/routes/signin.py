"""Sign-in for browsers, which send no bearer header: the token is posted once and a session cookie follows.

The cookie holds a random session id (HttpOnly, SameSite=Strict, Secure when
served over HTTPS); the database keeps only the id's hash, the token's hash and
the session's CSRF token. Sessions end at sign-out or after `session_hours`.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse

from railyard.api.deps import SESSION_COOKIE, PrincipalDep, SessionDep, form_fields, same_origin
from railyard.api.problems import Forbidden
from railyard.api.routes.dashboard import templates
from railyard.api.store.browser_sessions import close_session, open_session

router = APIRouter(include_in_schema=False)


def _safe_next(path: str | None) -> str:
    """Only a path on this site, never another host (`//evil`, `https://…`)."""
    return path if path and path.startswith("/") and not path.startswith("//") and "\\" not in path else "/"


@router.get("/signin", response_class=HTMLResponse)
def signin_page(request: Request, next: str | None = None, failed: bool = False):
    return templates.TemplateResponse(request, "signin.html", {"next": _safe_next(next), "failed": failed})


@router.post("/signin")
async def signin(request: Request, session: SessionDep):
    if not same_origin(request):
        raise Forbidden("sign in from this site's own sign-in page")  # no signing a victim in as someone else
    fields = await form_fields(request)
    token, next = fields.get("token", "")[:512], fields.get("next", "/")[:2048]
    tokens = request.app.state.tokens
    principal = tokens.principal(token.strip()) if tokens is not None and token.strip() else None
    if principal is None:
        return RedirectResponse(f"/signin?failed=true&next={quote(_safe_next(next))}", status_code=303)
    lifetime = dt.timedelta(hours=request.app.state.settings.session_hours)
    session_id = await run_in_threadpool(record_session, request.app.state.write_lock, session, principal.token_hash, lifetime)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, session_id, max_age=int(lifetime.total_seconds()), httponly=True,
                        samesite="strict", secure=request.url.scheme == "https", path="/")
    return response


def record_session(write_lock, session, token_hash: str, lifetime: dt.timedelta) -> str:
    session_id, _ = open_session(session, token_hash=token_hash, lifetime=lifetime)
    with write_lock:
        session.commit()
    return session_id


@router.post("/signout")
def signout(request: Request, session: SessionDep, principal: PrincipalDep):
    session_id = getattr(request.state, "session_id", None)
    if session_id:
        close_session(session, session_id=session_id)
        with request.app.state.write_lock:
            session.commit()
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
