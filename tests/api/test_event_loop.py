"""No request waits behind another request's database call on PostgreSQL: the event loop makes none. (On SQLite the
point work, reading one job and queueing one, runs in place, on the loop: railyard/api/point_work.py.)

A query on the jobs table is held (as a PostgreSQL pool out of connections, or a
slow server, would hold it) while /healthz is asked for on the same event loop.
"""

import re
import threading

import pytest
from sqlalchemy import event

from tests.api.test_routes import body

JOBS_TABLE = re.compile(r"\bjobs\b")
WAIT_SECONDS = 30  # generous: /healthz answers in milliseconds unless the loop is blocked


class HeldQueries:
    """Once armed, every statement on the jobs table waits until released."""

    def __init__(self, engine):
        self.armed = False
        self.entered = threading.Event()
        self.released = threading.Event()
        event.listen(engine, "before_cursor_execute", self._before)

    def _before(self, connection, cursor, statement, parameters, context, executemany):
        if self.armed and JOBS_TABLE.search(statement):
            self.entered.set()
            self.released.wait(WAIT_SECONDS * 2)


def in_thread(call) -> tuple[threading.Thread, dict]:
    answer: dict = {}
    thread = threading.Thread(target=lambda: answer.update(response=call()), daemon=True)
    thread.start()
    return thread, answer


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("method, path", [("GET", "/job/{job_id}/status"), ("GET", "/job/{job_id}/result"),
                                          ("POST", "/train"), ("GET", "/ui/job/{job_id}")])
def test_a_held_database_query_does_not_stop_healthz(app_factory, charges_path, method, path):
    client = app_factory(dispatch=False, dev=True)
    job_id = client.post("/train", json=body(charges_path)).json()["job_id"]
    held = HeldQueries(client.app.state.engine)
    held.armed = True
    slow, slow_answer = in_thread(lambda: client.request(method, path.format(job_id=job_id), json=body(charges_path)
                                                         if method == "POST" else None))
    try:
        assert held.entered.wait(WAIT_SECONDS), f"{method} {path} made no query on the jobs table"
        healthz, answer = in_thread(lambda: client.get("/healthz"))
        healthz.join(WAIT_SECONDS)
        assert not healthz.is_alive(), f"/healthz waited for the database query of {method} {path}"
        assert answer["response"].status_code == 200
        assert slow.is_alive()  # still held: /healthz did not wait for it
    finally:
        held.released.set()
        slow.join(WAIT_SECONDS)
    assert slow_answer["response"].status_code in (200, 202), slow_answer["response"].text
