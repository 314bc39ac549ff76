"""The dispatcher takes queued jobs fairly across owners, on SQLite and on PostgreSQL: with one slot, another
owner's job goes right after the job already running, however many one owner queued; an owner at its running
cap waits while another owner's job takes the free slot."""

import pytest
from fastapi.testclient import TestClient

from railyard.api.app import create_app
from railyard.launch.job import JobState, JobStatus
from tests.api.conftest import settings_for
from tests.api.test_dispatcher_follow import ScriptedExecutor
from tests.api.test_routes import body


class RecordingExecutor(ScriptedExecutor):
    """A ScriptedExecutor that remembers the order jobs reached it in."""

    def __init__(self, root):
        super().__init__(root)
        self.order: list[str] = []

    def submit(self, job):
        super().submit(job)
        self.order.append(job.job_id)


@pytest.fixture
def service(tmp_path, db_url):
    def make(**settings):
        executor = RecordingExecutor(tmp_path / "runs")
        client = TestClient(create_app(settings_for(tmp_path, db_url, dispatch=False, dev=True, **settings), executor=executor),
                            base_url="http://127.0.0.1")
        client.__enter__()
        made.append(client)
        return client, executor, client.app.state.parts.dispatcher

    made = []
    yield make
    for client in made:
        client.__exit__(None, None, None)


def submit(client, charges_path, owner: str) -> str:
    job = body(charges_path)
    job["spec"]["metadata"]["owner"] = owner
    response = client.post("/train", json=job)
    assert response.status_code == 202, response.text
    return response.json()["job_id"]


def finish(executor, dispatcher, job_ids) -> None:
    for job_id in job_ids:
        executor.answer[job_id] = JobStatus(JobState.complete, exit_code=0)
    dispatcher.tick()


def test_one_slot_another_owners_job_runs_right_after_the_running_one(service, charges_path):
    client, executor, dispatcher = service(concurrency={"CPU": 1})
    alice = [submit(client, charges_path, "alice")]
    dispatcher.tick()  # alice's first job takes the slot
    alice += [submit(client, charges_path, "alice") for _ in range(7)]
    carol = submit(client, charges_path, "carol")
    for _ in range(3):
        finish(executor, dispatcher, executor.order)
    assert executor.order == [alice[0], carol, alice[1], alice[2]]
    assert client.get(f"/job/{carol}/status").json()["job_state"] == "complete"
    assert [client.get(f"/job/{j}/status").json()["job_state"] for j in alice[3:]] == ["queued"] * 5


def test_slots_of_one_tick_go_round_robin_and_an_owner_at_its_cap_waits(service, charges_path):
    client, executor, dispatcher = service(concurrency={"CPU": 3}, max_running_per_owner={"CPU": 2})
    alice = [submit(client, charges_path, "alice") for _ in range(4)]
    dispatcher.tick()
    assert executor.order == alice[:2]  # the third slot stays free: alice is at her cap
    bob = [submit(client, charges_path, "bob") for _ in range(2)]
    dispatcher.tick()
    assert executor.order == [*alice[:2], bob[0]]
    finish(executor, dispatcher, alice[:2])
    assert executor.order == [*alice[:2], bob[0], alice[2], bob[1]]
