"""The service starts a job the infrastructure ended again, by itself, and the run resumes from its checkpoints;
a job its user cancelled is never started again; an OOMKilled job moves to the larger class once, where its spec
allows it. Real trainer processes on the local executor."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
import yaml

from railyard.launch.resources import DEFAULT_CONFIG
from tests.api.test_routes import body
from tests.conftest import example_spec, read_result, run_trainer, write_spec

pytestmark = pytest.mark.slow
ROUNDS = 200


def fraud_body(charges_path) -> dict:
    request = body(charges_path, checkpoints={"every_iterations": 25})
    request["spec"]["train"]["custom_params"]["n_estimators"] = ROUNDS
    return request


def wait_for(check, what: str, seconds: float = 120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def reached(output: Path, iteration: int) -> bool:
    try:
        return (json.loads((output / "progress.json").read_text()).get("iteration") or 0) >= iteration
    except (OSError, ValueError):
        return False


def kill_trainer(jobs_dir: Path, job_id: str) -> None:
    for pgid in (jobs_dir / job_id / "trainer.pgid").read_text().split():
        os.killpg(int(pgid), signal.SIGKILL)


@pytest.fixture
def service(app_factory, monkeypatch):
    monkeypatch.setenv("RAILYARD_PROGRESS_SECONDS", "0")
    return app_factory(dev=True, max_attempts=3)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # the production store; retries are not the store's
def test_a_killed_job_is_started_again_resumes_and_shows_its_attempts(service, charges_path, tmp_path):
    request = fraud_body(charges_path)
    job_id = service.post("/train", json=request).json()["job_id"]
    output = tmp_path / "runs" / job_id
    wait_for(lambda: reached(output, 60), "the fit to pass round 60")
    kill_trainer(tmp_path / "jobs", job_id)

    status = wait_for(lambda: (s := service.get(f"/job/{job_id}/status").json())["job_state"] in ("complete", "failed") and s,
                      "the job to end")
    assert status["job_state"] == "complete", status
    [attempt] = status["attempts"]
    assert attempt["reason"] == "Killed" and attempt["exit_code"] == -signal.SIGKILL and attempt["resumed_from"] is None
    result = service.get(f"/job/{job_id}/result").json()["result"]
    resumed = result["checkpoints"]["resumed"]
    assert resumed["from_iteration"] >= 50 and resumed["exact"] is True
    assert (tmp_path / "jobs" / job_id / "attempts" / "1" / "trainer.log").exists()

    alone = tmp_path / "alone"
    finished = run_trainer("--spec", write_spec(tmp_path, request["spec"]), "--output", alone)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert result["model_id"] == read_result(alone)["result"]["model_id"]

    page = service.get(f"/ui/job/{job_id}").text
    assert 'id="attempts"' in page and "Killed" in page and f"resumed from iteration {resumed['from_iteration']}" in page


def test_a_job_that_keeps_being_killed_fails_after_its_attempts(service, charges_path, tmp_path):
    job_id = service.post("/train", json=fraud_body(charges_path)).json()["job_id"]
    groups = tmp_path / "jobs" / job_id / "trainer.pgid"
    killed: set[str] = set()
    for attempt in range(3):
        pgids = wait_for(lambda: groups.exists() and (found := groups.read_text().strip()) not in killed and found,
                         f"attempt {attempt + 1} to start")
        kill_trainer(tmp_path / "jobs", job_id)
        killed.add(pgids)
    status = wait_for(lambda: (s := service.get(f"/job/{job_id}/status").json())["job_state"] in ("complete", "failed") and s,
                      "the job to end")
    assert (status["job_state"], status["reason"]) == ("failed", "Killed")
    assert [a["reason"] for a in status["attempts"]] == ["Killed", "Killed"]


def test_a_cancelled_job_is_not_started_again(service, charges_path, tmp_path):
    job_id = service.post("/train", json=fraud_body(charges_path)).json()["job_id"]
    output = tmp_path / "runs" / job_id
    wait_for(lambda: reached(output, 40), "the fit to pass round 40")
    assert service.post(f"/job/{job_id}/cancel").json()["job_state"] == "cancelled"
    time.sleep(2)  # several dispatcher ticks
    status = service.get(f"/job/{job_id}/status").json()
    assert status["job_state"] == "cancelled" and status["attempts"] == []
    assert not (tmp_path / "jobs" / job_id / "attempts").exists()


def small_cpu_class(tmp_path: Path) -> str:
    """The launch config with a CPU class too small for the trainer (it is OOMKilled as it loads its libraries)."""
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    config["resource_classes"]["CPU"].update(requests={"cpu": "1", "memory": "200Mi"}, limits={"cpu": "1", "memory": "200Mi"})
    config["resource_classes"]["HIGH_MEMORY"].update(requests={"cpu": "1", "memory": "4Gi"}, limits={"cpu": "1", "memory": "4Gi"})
    path = tmp_path / "small-cpu.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def test_an_oomkilled_job_runs_once_more_on_the_larger_class_when_its_spec_allows(app_factory, charges_path, tmp_path):
    service = app_factory(dev=True, max_attempts=3, launch_config=small_cpu_class(tmp_path))
    allowed, refused = fraud_body(charges_path), fraud_body(charges_path)
    allowed["spec"]["allow_larger_class"] = True
    allowed_id = service.post("/train", json=allowed).json()["job_id"]
    refused_id = service.post("/train", json=refused).json()["job_id"]

    def ended(job_id):
        return wait_for(lambda: (s := service.get(f"/job/{job_id}/status").json())["job_state"] in ("complete", "failed") and s,
                        f"job {job_id} to end", seconds=300)

    status = ended(allowed_id)
    assert status["job_state"] == "complete" and status["compute_resource"] == "HIGH_MEMORY", status
    [attempt] = status["attempts"]
    assert (attempt["reason"], attempt["compute_resource"]) == ("OOMKilled", "CPU")
    assert "exceeded the limit of 200 MiB" in attempt["message"]
    page = service.get(f"/ui/job/{allowed_id}").text
    assert "OOMKilled" in page and "HIGH_MEMORY" in page

    status = ended(refused_id)
    assert (status["job_state"], status["reason"], status["compute_resource"]) == ("failed", "OOMKilled", "CPU")
    assert status["attempts"] == []
