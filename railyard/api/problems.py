"""What goes wrong in a request, as domain errors, and the one handler that turns each into an HTTP status.

Routes, dependencies and the modules they call raise these (or the project's
own errors listed in STATUS); nothing else in the service chooses a status code.
A 422 carries the location of the bad input, as FastAPI's own validation does.
"""

from __future__ import annotations

import json

from fastapi import Request
from fastapi.responses import JSONResponse

from railyard.api.data_access import BadDataPath, DataAccessDenied
from railyard.binaries.inspect import NotATrainer
from railyard.binaries.reference import BadReference
from railyard.binaries.store import TooLarge
from railyard.errors import RailyardError
from railyard.launch.job import UnknownJob


class Problem(RailyardError):
    """A request the service refuses; `status` is its HTTP status."""

    status = 400

    def __init__(self, message: str, *, loc: tuple = (), headers: dict[str, str] | None = None):
        super().__init__(message)
        self.loc = loc
        self.headers = headers or {}


class BadRequest(Problem):
    status = 400


class Unauthenticated(Problem):
    status = 401


class Forbidden(Problem):
    status = 403


class NotFound(Problem):
    status = 404


class Conflict(Problem):
    status = 409


class TooLarge(Problem):
    status = 413


class Unprocessable(Problem):
    status = 422


class TooManyRequests(Problem):
    status = 429


class Busy(Problem):
    status = 503


STATUS: dict[type[Exception], tuple[int, tuple]] = {
    DataAccessDenied: (403, ()),
    BadDataPath: (422, ("body", "spec")),
    BadReference: (422, ("body", "binary")),
    NotATrainer: (422, ("body",)),
    TooLarge: (413, ()),
    UnknownJob: (404, ()),
}


def status_of(exc: RailyardError) -> tuple[int, tuple, dict[str, str]]:
    if isinstance(exc, Problem):
        return exc.status, exc.loc, exc.headers
    for kind, (status, loc) in STATUS.items():
        if isinstance(exc, kind):
            return status, loc, {}
    return 500, (), {}


async def problem_response(request: Request, exc: RailyardError) -> JSONResponse:
    status, loc, headers = status_of(exc)
    if status == 422:
        detail = [{"loc": list(loc), "msg": str(exc), "type": "value_error"}]
    elif status == 500:
        detail = "internal error"
    else:
        detail = str(exc)
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


CLOSE = {"Connection": "close"}  # for an answer that leaves the request's body unread: it would keep the connection busy


async def send_problem(send, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
    """The same answer as `problem_response`, sent by a layer that runs before the application (raw ASGI)."""
    body = json.dumps({"detail": detail}).encode()
    extra = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra]})
    await send({"type": "http.response.body", "body": body})
