"""The client sends a job id as one path segment, whatever it holds: `railyard cancel '../binaries?'` cannot
reach another route, and a control character is a 404 from the service, not a traceback."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from railyard.client import Client
from railyard.errors import RailyardError


class Recorder(BaseHTTPRequestHandler):
    seen: list[tuple[str, str]] = []

    def _answer(self):
        Recorder.seen.append((self.command, self.path))
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"detail": "no job"}')

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def service():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Recorder.seen.clear()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.parametrize("job_id, segment", [("../binaries?", "..%2Fbinaries%3F"), ("..", "%2E%2E"),
                                             ("x\x1b]0;T\x07", "x%1B%5D0%3BT%07")])
def test_a_job_id_is_one_path_segment(service, job_id, segment):
    client = Client(url=service, token="t" * 32)
    for call, method, suffix in ((client.status, "GET", "status"), (lambda j: client.action(j, "cancel"), "POST", "cancel")):
        with pytest.raises(RailyardError, match="404"):
            call(job_id)
        assert Recorder.seen[-1] == (method, f"/job/{segment}/{suffix}")
