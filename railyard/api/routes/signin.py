"""Sign-in for browsers, which send no bearer header: the token is posted once and a session cookie follows.

The cookie holds a random session id (HttpOnly, SameSite=Strict; when the
service is told it sits behind TLS, `Secure` and named with the `__Host-`
prefix); the database keeps only the id's hash, the token's hash and the
session's CSRF token. Sessions end at sign-out, after `session_hours`, or when
their token leaves the tokens file. A wrong token counts against its client as
a wrong bearer token does.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse

from railyard.api.authentication import session_cookie_name
from railyard.api.deps import PartsDep, PrincipalDep, SessionDep, form_fields, same_origin
from railyard.api.problems import Forbidden, TooManyRequests
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
async def signin(request: Request, session: SessionDep, parts: PartsDep):
    if not same_origin(request):
        raise Forbidden("sign in from this site's own sign-in page")  # no signing a victim in as someone else
    fields = await form_fields(request)
    token, next = fields.get("token", "")[:512], fields.get("next", "/")[:2048]
    tokens, throttle = parts.tokens, parts.throttle
    client = request.client.host if request.client else "unknown"
    wait = throttle.retry_after(client)
    if wait is not None:
        raise TooManyRequests("too many wrong tokens from this address; wait and try again", headers={"Retry-After": str(wait)})
    principal = tokens.principal(token.strip()) if tokens is not None and token.strip() else None
    if principal is None:
        throttle.failed(client)
        return RedirectResponse(f"/signin?failed=true&next={quote(_safe_next(next))}", status_code=303)
    lifetime = dt.timedelta(hours=parts.settings.session_hours)
    session_id = await run_in_threadpool(record_session, parts.write_lock, session, principal.token_hash, lifetime)
    response = RedirectResponse(_safe_next(next), status_code=303)
    behind_tls = parts.settings.behind_tls
    response.set_cookie(session_cookie_name(behind_tls), session_id, max_age=int(lifetime.total_seconds()), httponly=True,
                        samesite="strict", secure=behind_tls, path="/")
    return response


def record_session(write_lock, session, token_hash: str, lifetime: dt.timedelta) -> str:
    session_id, _ = open_session(session, token_hash=token_hash, lifetime=lifetime)
    with write_lock:
        session.commit()
    return session_id


@router.post("/signout")
def signout(request: Request, session: SessionDep, principal: PrincipalDep, parts: PartsDep):
    session_id = getattr(request.state, "session_id", None)
    if session_id:
        close_session(session, session_id=session_id)
        with parts.write_lock:
            session.commit()
    response = RedirectResponse("/signin", status_code=303)
    behind_tls = parts.settings.behind_tls
    response.delete_cookie(session_cookie_name(behind_tls), path="/", secure=behind_tls, httponly=True, samesite="strict")
    return response
