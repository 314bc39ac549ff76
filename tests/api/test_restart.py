"""The dispatcher runs queued jobs and follows them; after `kill -9` of the service nothing is
lost, nothing runs twice, and a job whose process died while the service was down is started again."""

import os
import signal
import time

import httpx
import pytest

from tests.api.service import Service
from tests.conftest import REPO, example_spec

pytestmark = pytest.mark.slow


def slow_job(charges_path, seconds: float) -> dict:
    spec = example_spec("fraud", charges_path)
    spec["train"].update(workflow_name="CountingSlowModel", custom_params={"seconds": seconds})
    return {"spec": spec, "binary": "dev", "workflow_modules": ["team_models"]}


@pytest.fixture
def env(tmp_path):
    return {
        "PYTHONPATH": f"{REPO / 'tests' / 'outside'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "RAILYARD_TEST_COUNTER": str(tmp_path / "started"),
    }


def start_and_wait_running(service: Service, charges_path, seconds: float) -> str:
    job_id = httpx.post(f"{service.url}/train", json=slow_job(charges_path, seconds)).json()["job_id"]
    service.wait_for(job_id, ("running",))
    return job_id


def test_kill_9_loses_nothing_and_runs_nothing_twice(tmp_path, charges_path, env):
    service = Service(tmp_path / "svc", env).start()
    try:
        job_id = start_and_wait_running(service, charges_path, 6)
        queued_id = httpx.post(f"{service.url}/train", json=slow_job(charges_path, 0.5)).json()["job_id"]
        service.kill()  # the second job may not even have been dispatched yet

        service = Service(tmp_path / "svc", env).start()
        finished = service.wait_for(job_id, ("complete", "failed", "cancelled"))
        assert finished["job_state"] == "complete", finished
        assert [t["job_state"] for t in finished["transitions"]] == ["queued", "running", "complete"]
        assert service.wait_for(queued_id, ("complete", "failed"))["job_state"] == "complete"
        assert (tmp_path / "started").read_text().count("started") == 2  # each job trained exactly once
        result = httpx.get(f"{service.url}/job/{job_id}/result").json()
        assert result["result"]["model_id"].startswith("sha256.")
    finally:
        service.stop()


def test_job_whose_process_died_while_the_service_was_down_is_started_again(tmp_path, charges_path, env):
    service = Service(tmp_path / "svc", env).start()
    try:
        job_id = start_and_wait_running(service, charges_path, 4)
        service.kill()
        job_dir = tmp_path / "svc" / "jobs" / job_id
        os.kill(int((job_dir / "supervisor.pid").read_text()), signal.SIGKILL)
        os.killpg(int((job_dir / "trainer.pgid").read_text()), signal.SIGKILL)
        time.sleep(0.5)

        service = Service(tmp_path / "svc", env).start()
        final = service.wait_for(job_id, ("complete", "failed", "cancelled"), timeout=60)
        assert final["job_state"] == "complete", final
        [lost] = final["attempts"]
        assert lost["reason"] == "Lost" and "supervisor process ended" in lost["message"]
        assert (tmp_path / "svc" / "jobs" / job_id / "attempts" / "1" / "state.json").exists()
    finally:
        service.stop()


def test_cancel_a_running_job_through_the_api(tmp_path, charges_path, env):
    service = Service(tmp_path / "svc", env).start()
    try:
        job_id = start_and_wait_running(service, charges_path, 60)
        pgid = int((tmp_path / "svc" / "jobs" / job_id / "trainer.pgid").read_text())
        status = httpx.post(f"{service.url}/job/{job_id}/cancel", timeout=60).json()
        assert status["job_state"] == "cancelled"
        with pytest.raises(ProcessLookupError):
            os.killpg(pgid, 0)
        time.sleep(1.5)  # the dispatcher must not turn it back into anything else
        assert httpx.get(f"{service.url}/job/{job_id}/status").json()["job_state"] == "cancelled"
    finally:
        service.stop()
