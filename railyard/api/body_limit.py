"""Request bodies: a size limit, a time limit, and a cap on the bytes held for all requests together.

The body (at most the limit, 1 MiB by default) is read before the route runs,
so a chunked body over the limit is answered 413 like a declared one. A client
that takes longer than `seconds` to send its whole body is answered 408 and
dropped. While the bodies held for the requests in flight add up to
`max_held_bytes`, another body is answered 503 with Retry-After rather than
held. A route that streams its body to disk (publishing a binary) has its own,
larger size limit and must send something every `seconds`. Authentication runs
before this layer: a request without a principal never gets here with a body.
"""

from __future__ import annotations

import asyncio

from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect

from railyard.api.problems import CLOSE, send_problem as _answer


def has_body(headers: Headers) -> bool:
    """Whether a body follows the headers (HTTP/1.1: a chunked one, or a Content-Length other than 0)."""
    length = headers.get("content-length")
    return "transfer-encoding" in headers or (length is not None and length.strip() not in ("", "0"))


class BodySizeLimit:
    def __init__(self, app, max_bytes: int, streamed: dict[str, int] | None = None, *, seconds: float = 30.0,
                 max_held_bytes: int = 64 << 20):
        self.app = app
        self.max_bytes = max_bytes
        self.streamed = streamed or {}
        self.seconds = seconds
        self.max_held_bytes = max_held_bytes
        self.held = 0  # one event loop: no lock needed

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if scope.get("method") == "POST" and scope.get("path") in self.streamed:
            return await self._streamed(scope, receive, send)
        headers = Headers(scope=scope)
        if not has_body(headers):
            return await self.app(scope, receive, send)
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await _answer(send, 413, f"request body is larger than {self.max_bytes} bytes", CLOSE)
        chunks, seen, taken = [], 0, 0
        deadline = asyncio.get_running_loop().time() + self.seconds
        try:
            while True:
                try:
                    async with asyncio.timeout_at(deadline):
                        message = await receive()
                except TimeoutError:
                    return await _answer(send, 408, f"the request body took longer than {self.seconds:g} s to arrive",
                                         CLOSE)
                if message["type"] != "http.request":
                    return await self.app(scope, _replay([message], receive), send)  # the client went away
                chunk = message.get("body", b"")
                seen += len(chunk)
                if seen > self.max_bytes:
                    return await _answer(send, 413, f"request body is larger than {self.max_bytes} bytes", CLOSE)
                if self.held + len(chunk) > self.max_held_bytes:
                    return await _answer(send, 503, "the service is holding as many request bodies as it may; try again shortly",
                                         {"Retry-After": "5", **CLOSE})
                self.held += len(chunk)
                taken += len(chunk)
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
            body = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            await self.app(scope, _replay([body], receive), send)
        finally:
            self.held -= taken

    async def _streamed(self, scope, receive, send):
        """The route reads the body itself and enforces its own size limit; a stall of `seconds` between chunks is
        408, and a client that went away is no error of the service's."""
        stalled = False

        async def timed():
            nonlocal stalled
            try:
                async with asyncio.timeout(self.seconds):
                    return await receive()
            except TimeoutError:
                stalled = True
                return {"type": "http.disconnect"}  # the route sees a client that went away

        try:
            await self.app(scope, timed, send)
        except ClientDisconnect:
            if stalled:
                await _answer(send, 408, f"the request body stopped arriving for {self.seconds:g} s", CLOSE)


def _replay(messages: list[dict], receive):
    """A receive that gives `messages` first, then whatever the client sends next (its disconnect)."""
    async def replayed():
        return messages.pop(0) if messages else await receive()

    return replayed
