"""What the dispatcher records from the executor's answers: the executor's word on how a job ended, `Lost` for a
job it has no record of once its attempts are spent (it is submitted again before), and nothing at all while it
cannot answer."""

import pytest
from fastapi.testclient import TestClient

from railyard.api.app import create_app
from railyard.errors import RailyardError
from railyard.launch.job import Executor, JobState, JobStatus, StillRunning, UnknownJob
from tests.api.conftest import settings_for
from tests.api.test_routes import body


class ScriptedExecutor(Executor):
    """Answers `status` with what `answer` holds for the job: a JobStatus, or an error to raise."""

    def __init__(self, root):
        self.root, self.jobs, self.answer = root, set(), {}

    def output_uri(self, job_id):
        return str(self.root / job_id)

    def submit(self, job):
        self.jobs.add(job.job_id)
        self.answer[job.job_id] = JobStatus(JobState.running)

    def status(self, job_id):
        found = self.answer.get(job_id) or UnknownJob(f"no job {job_id}")
        if isinstance(found, Exception):
            raise found
        return found

    def logs(self, job_id):
        return ""

    def read_log(self, job_id, offset=0, limit=1):
        return b"", offset

    def cancel(self, job_id):
        raise UnknownJob(f"no job {job_id}")


@pytest.fixture
def service(tmp_path, db_url, request):
    executor = ScriptedExecutor(tmp_path / "runs")
    settings = settings_for(tmp_path, db_url, dispatch=False, dev=True, max_attempts=getattr(request, "param", 1))
    with TestClient(create_app(settings, executor=executor), base_url="http://127.0.0.1") as client:
        yield client, executor, client.app.state.parts.dispatcher


def test_an_executor_that_cannot_answer_is_asked_again_and_an_unknown_job_is_lost(service, charges_path):
    client, executor, dispatcher = service
    kept, lost = (client.post("/train", json=body(charges_path)).json()["job_id"] for _ in range(2))
    dispatcher.tick()
    assert executor.jobs == {kept, lost}

    def state(job_id):
        return client.get(f"/job/{job_id}/status").json()

    executor.answer[kept] = RailyardError("the Kubernetes API is down")
    executor.answer[lost] = UnknownJob(f"no Job railyard-{lost}")
    dispatcher.tick()
    assert state(kept)["job_state"] in ("queued", "running")
    assert (state(lost)["job_state"], state(lost)["reason"]) == ("failed", "Lost")
    assert state(lost)["message"] == f"the executor has no record of the job: no Job railyard-{lost}"

    executor.answer[kept] = JobStatus(JobState.failed, reason="NoResult", exit_code=0, message="its word")
    dispatcher.tick()
    assert (state(kept)["job_state"], state(kept)["reason"], state(kept)["message"]) == ("failed", "NoResult", "its word")


@pytest.mark.parametrize("service", [2], indirect=True)
def test_a_job_the_executor_lost_is_submitted_again_until_its_attempts_are_spent(service, charges_path):
    client, executor, dispatcher = service
    job_id = client.post("/train", json=body(charges_path)).json()["job_id"]
    dispatcher.tick()
    executor.answer[job_id] = UnknownJob(f"no Job railyard-{job_id}")
    dispatcher.tick()
    status = client.get(f"/job/{job_id}/status").json()
    assert status["job_state"] in ("queued", "running") and executor.answer[job_id] == JobStatus(JobState.running)
    assert [(a["reason"], a["resumed_from"]) for a in status["attempts"]] == [("Lost", None)]

    executor.answer[job_id] = UnknownJob(f"no Job railyard-{job_id}")
    dispatcher.tick()
    status = client.get(f"/job/{job_id}/status").json()
    assert (status["job_state"], status["reason"], len(status["attempts"])) == ("failed", "Lost", 1)


def test_cancel_of_a_job_its_executor_no_longer_knows_still_cancels(service, charges_path):
    client, executor, dispatcher = service
    job_id = client.post("/train", json=body(charges_path)).json()["job_id"]
    dispatcher.tick()
    response = client.post(f"/job/{job_id}/cancel")
    assert response.status_code == 200 and response.json()["job_state"] == "cancelled"


def test_unknown_job_from_an_executor_is_404():
    from railyard.api.problems import status_of

    assert status_of(UnknownJob("no local job x under /jobs"))[0] == 404


@pytest.mark.parametrize("written", [
    {"status": "not an object", "result": {"model_id": 7}, "exception_info": "nor this"},
    {"status": {"git_commit": "x" * 5000, "binary_sha256": ["a"], "data_fingerprint": [1, 2]}, "result": ["model"]},
    {"status": {"data_fingerprint": [{"path": "x" * (2 << 20)}]}},
    ["a", "list"],
])
def test_a_result_file_of_the_wrong_shape_still_ends_the_job(service, charges_path, written):
    """A trainer's bug in result.json cannot keep a finished job from being recorded (nor crash following)."""
    import json
    import time

    client, executor, dispatcher = service
    job_id = client.post("/train", json=body(charges_path)).json()["job_id"]

    def tick_until(done) -> None:
        for _ in range(100):
            dispatcher.tick()
            if done():
                return
            time.sleep(0.05)

    tick_until(lambda: job_id in executor.jobs)
    (executor.root / job_id).mkdir(parents=True)
    (executor.root / job_id / "result.json").write_text(json.dumps(written))
    executor.answer[job_id] = JobStatus(JobState.failed, reason="Error", exit_code=1, message="it failed")
    tick_until(lambda: client.get(f"/job/{job_id}/status").json()["job_state"] == "failed")
    status = client.get(f"/job/{job_id}/status").json()
    assert (status["job_state"], status["reason"]) == ("failed", "Error")
    assert status["git_commit"] is None or len(status["git_commit"]) <= 64
    assert status["data_fingerprint"] is None
    [listed] = [j for j in client.get("/jobs").json()["jobs"] if j["job_id"] == job_id]
    assert listed["model_id"] is None


class RestartsOneWorker(ScriptedExecutor):
    """Starts the trainer of a job of one worker again by itself, as Kubernetes does; the service restarts the rest."""

    def __init__(self, root):
        super().__init__(root)
        self.retried = []

    def retries_itself(self, workers):
        return workers == 1

    def retry(self, job):
        self.retried.append(job.job_id)
        self.answer[job.job_id] = JobStatus(JobState.running)


def test_the_service_restarts_a_job_of_several_workers_whose_executor_restarts_only_one(tmp_path, db_url, charges_path):
    executor = RestartsOneWorker(tmp_path / "runs")
    settings = settings_for(tmp_path, db_url, dispatch=False, dev=True, max_attempts=3)
    with TestClient(create_app(settings, executor=executor), base_url="http://127.0.0.1") as client:
        dispatcher = client.app.state.parts.dispatcher
        one, two = (client.post("/train", json=body(charges_path, workers=n)).json()["job_id"] for n in (1, 2))
        dispatcher.tick()
        preempted = JobStatus(JobState.failed, reason="Preempted", exit_code=137, message="worker 1: its pod was disrupted")
        executor.answer[one] = executor.answer[two] = preempted
        dispatcher.tick()
        assert executor.retried == [two]
        dispatcher.tick()
        status = client.get(f"/job/{two}/status").json()
        assert status["job_state"] == "running" and [a["reason"] for a in status["attempts"]] == ["Preempted"]
        assert client.get(f"/job/{one}/status").json()["job_state"] == "failed", "its executor had already retried it"


def test_a_job_another_replica_already_started_again_is_left_running(tmp_path, db_url, charges_path):
    """The executor says the job runs again (another replica's retry): nothing is recorded, nothing fails."""
    executor = RestartsOneWorker(tmp_path / "runs")
    settings = settings_for(tmp_path, db_url, dispatch=False, dev=True, max_attempts=3)
    with TestClient(create_app(settings, executor=executor), base_url="http://127.0.0.1") as client:
        dispatcher = client.app.state.parts.dispatcher
        job_id = client.post("/train", json=body(charges_path, workers=2)).json()["job_id"]
        dispatcher.tick()
        executor.answer[job_id] = JobStatus(JobState.failed, reason="Preempted", message="worker 1: its pod was disrupted")
        executor.retry = lambda job: (_ for _ in ()).throw(StillRunning(f"job {job.job_id} still runs (its attempt 2)"))
        dispatcher.tick()
        status = client.get(f"/job/{job_id}/status").json()
        assert status["job_state"] in ("queued", "running") and status["attempts"] == []
