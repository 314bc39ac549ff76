"""`railyard submit` when every check slot of the service is busy (a burst of submits): it queues the job anyway and
says so, as the job's own run checks the spec before training; any other refusal of the check stops it."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from railyard import cli
from tests.conftest import example_spec, write_spec


def answering(validate_status: int):
    """A service whose /validate answers `validate_status` and whose /train queues: the requests it saw."""
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            seen.append(self.path)
            status, body = (validate_status, {"detail": "every validation slot is busy"}) if self.path == "/validate" \
                else (202, {"job_id": "job-1"})
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, seen


@pytest.mark.parametrize("status", [429, 503])
def test_a_busy_check_still_queues_and_says_so(status, tmp_path, charges_path, monkeypatch, capsys):
    server, seen = answering(status)
    monkeypatch.setenv("RAILYARD_URL", f"http://127.0.0.1:{server.server_address[1]}")
    try:
        assert cli.main(["submit", str(write_spec(tmp_path, example_spec("fraud", charges_path))), "--binary", "fraud_train"]) == 0
    finally:
        server.shutdown()
    out, err = capsys.readouterr()
    assert seen == ["/validate", "/train"] and out.strip() == "job-1"
    assert err.startswith(f"not checked against the data now ({status}: every validation slot is busy); queued")


def test_a_refused_check_queues_nothing(tmp_path, charges_path, monkeypatch, capsys):
    server, seen = answering(403)
    monkeypatch.setenv("RAILYARD_URL", f"http://127.0.0.1:{server.server_address[1]}")
    try:
        assert cli.main(["submit", str(write_spec(tmp_path, example_spec("fraud", charges_path))), "--binary", "fraud_train"]) == 1
    finally:
        server.shutdown()
    assert seen == ["/validate"] and capsys.readouterr().err.startswith("railyard submit: 403: ")
