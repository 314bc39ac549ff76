"""A publish that stops sending mid-upload: 408 once no chunk came for --body-seconds, and no upload is left behind."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi.testclient import TestClient

from railyard.api.app import create_app
from tests.api.conftest import CI, settings_for, tokens_file  # noqa: F401  (a fixture)


def test_a_stalled_publish_is_408_and_leaves_nothing(tmp_path, tokens_file):
    app = create_app(settings_for(tmp_path, str(tmp_path / "db"), dispatch=False, auth_tokens=tokens_file, body_seconds=0.3))
    headers = [(b"host", b"127.0.0.1"), (b"authorization", CI["Authorization"].encode()),
               (b"content-type", b"application/octet-stream"), (b"content-length", b"10000000")]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/binaries", "raw_path": b"/binaries", "query_string": b"", "root_path": "", "headers": headers,
             "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8080)}
    chunks = [{"type": "http.request", "body": b"#!/usr/bin/env python3\n" + b"x" * 100_000, "more_body": True}]
    sent = []

    async def receive():
        if chunks:
            return chunks.pop()
        await asyncio.sleep(3600)  # the client stalls

    async def send(message):
        sent.append(message)

    with TestClient(app):  # runs the application's startup
        asyncio.run(asyncio.wait_for(app(scope, receive, send), 30))
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert start["status"] == 408
    assert b"stopped arriving" in b"".join(m.get("body", b"") for m in sent)
    assert list(Path(tmp_path / "binaries").rglob("*.part")) == []
