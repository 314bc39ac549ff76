"""Who a request is, found once, before any route runs and before its body is read.

A principal comes from the bearer token (API clients; every route accepts it)
or from a browser's session cookie set at sign-in; without a tokens file every
request is `anonymous` (loopback only). What was found is put in the request's
state for `deps.get_principal`, which decides what a route may do with it.

A request that carries a body but no principal is answered 401 before a byte of
the body is read (the sign-in form excepted), so strangers cannot make the
service hold their uploads. A wrong bearer token is 401 and counts against its
client (`throttle.py`): after a burst, every bearer token from that client is
429 until the bucket refills. A cookie whose session outlived its token (the
token was removed from the tokens file) ends that session for good.
"""

from __future__ import annotations

from dataclasses import dataclass
from http.cookies import SimpleCookie

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers

from railyard.api.auth import ANONYMOUS, Principal, TokenFile
from railyard.api.body_limit import has_body
from railyard.api.problems import CLOSE, send_problem as _answer
from railyard.api.store.browser_sessions import close_sessions_of, find_session
from railyard.api.throttle import FailureThrottle

SESSION_COOKIE = "railyard_session"
TLS_SESSION_COOKIE = "__Host-railyard_session"  # the prefix binds it to this host, path / and HTTPS
UNAUTHENTICATED_BODIES = {("POST", "/signin")}
MAX_SESSION_ID = 128


@dataclass(frozen=True)
class Identity:
    """What authentication found: the principal and, for a browser session, its id and CSRF token."""

    principal: Principal
    session_id: str | None = None
    csrf_token: str | None = None


def session_cookie_name(behind_tls: bool) -> str:
    return TLS_SESSION_COOKIE if behind_tls else SESSION_COOKIE


def _cookie(headers: Headers, name: str) -> str | None:
    jar = SimpleCookie()
    try:
        jar.load(headers.get("cookie", ""))
    except Exception:  # a cookie header that does not parse names no session
        return None
    morsel = jar.get(name)
    return morsel.value[:MAX_SESSION_ID] if morsel is not None and morsel.value else None


class Authenticate:
    def __init__(self, app, *, tokens: TokenFile | None, sessions, write_lock, throttle: FailureThrottle, behind_tls: bool):
        self.app = app
        self.tokens = tokens
        self.sessions = sessions
        self.write_lock = write_lock
        self.throttle = throttle
        self.cookie = session_cookie_name(behind_tls)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = Headers(scope=scope)
        if self.tokens is None:
            identity = Identity(ANONYMOUS)
        else:
            client = (scope.get("client") or ("unknown",))[0]
            # Answered early, a request's unread body would keep the connection busy: close it instead.
            closing = CLOSE if has_body(headers) else {}
            authorization = headers.get("authorization")
            if authorization is not None:
                wait = self.throttle.retry_after(client)
                if wait is not None:
                    return await _answer(send, 429, "too many wrong tokens from this address; wait and try again",
                                         {"Retry-After": str(wait), **closing})
                scheme, _, presented = authorization.partition(" ")
                principal = self.tokens.principal(presented.strip()) if scheme.lower() == "bearer" and presented.strip() else None
                if principal is None:
                    self.throttle.failed(client)
                    return await _answer(send, 401, "a valid bearer token is required", {"WWW-Authenticate": "Bearer", **closing})
                identity = Identity(principal)
            else:
                identity = await self._from_cookie(headers)
            if identity is None and closing and (scope["method"], scope["path"]) not in UNAUTHENTICATED_BODIES:
                return await _answer(send, 401, "a valid bearer token is required", {"WWW-Authenticate": "Bearer", **closing})
        scope.setdefault("state", {})["identity"] = identity
        await self.app(scope, receive, send)

    async def _from_cookie(self, headers: Headers) -> Identity | None:
        session_id = _cookie(headers, self.cookie)
        if session_id is None:
            return None
        record = await run_in_threadpool(self._find, session_id)
        if record is None:
            return None
        principal = self.tokens.by_hash(record.token_hash)
        if principal is None:
            if not self.tokens.broken:
                await run_in_threadpool(revoke_sessions, self.sessions, self.write_lock, {record.token_hash})
            return None
        return Identity(principal, session_id=session_id, csrf_token=record.csrf_token)

    def _find(self, session_id: str):
        with self.sessions() as session:
            return find_session(session, session_id=session_id)


def revoke_sessions(sessions, write_lock, token_hashes: set[str], *, all_but: bool = False) -> None:
    """End every browser session of these tokens for good; with `all_but`, of every token but these (a token
    removed while the service was stopped is removed all the same)."""
    with sessions() as session:
        close_sessions_of(session, token_hashes=token_hashes, all_but=all_but)
        with write_lock:
            session.commit()
