"""Two service replicas on one PostgreSQL: every job is dispatched exactly once, also when one replica is
killed with `kill -9` mid-way; a second service on one SQLite file is refused at start."""

import os
import subprocess
import sys

import httpx
import pytest

from tests.api.conftest import postgres_database
from tests.api.service import Service
from tests.conftest import REPO, example_spec

pytestmark = pytest.mark.slow
JOBS = 8


def quick_job(charges_path) -> dict:
    spec = example_spec("fraud", charges_path)
    spec["train"].update(workflow_name="CountingSlowModel", custom_params={"seconds": 0.5})
    return {"spec": spec, "binary": "dev", "workflow_modules": ["team_models"]}


@pytest.fixture
def replicas(tmp_path, postgres_server):
    """Two replicas sharing one database and one local executor's job directory, as two pods share a cluster."""
    env = {
        "PYTHONPATH": f"{REPO / 'tests' / 'outside'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "RAILYARD_TEST_COUNTER": str(tmp_path / "started"),
    }
    db = postgres_database(postgres_server)
    started = [Service(tmp_path / "svc", env, db=db).start() for _ in range(2)]
    yield started
    for service in started:
        service.stop()


def test_two_replicas_dispatch_every_job_exactly_once(replicas, charges_path, tmp_path):
    ids = [httpx.post(f"{replicas[i % 2].url}/train", json=quick_job(charges_path)).json()["job_id"] for i in range(JOBS)]
    for job_id in ids:
        final = replicas[0].wait_for(job_id, ("complete", "failed", "cancelled"), timeout=300)
        assert final["job_state"] == "complete", final
        assert [t["job_state"] for t in final["transitions"]] == ["queued", "running", "complete"]
    assert (tmp_path / "started").read_text().count("started") == JOBS


def test_a_replica_killed_mid_way_loses_nothing_and_runs_nothing_twice(replicas, charges_path, tmp_path):
    ids = [httpx.post(f"{replicas[i % 2].url}/train", json=quick_job(charges_path)).json()["job_id"] for i in range(JOBS)]
    replicas[0].wait_for(ids[0], ("running", "complete"), timeout=120)
    replicas[0].kill()
    for job_id in ids:
        final = replicas[1].wait_for(job_id, ("complete", "failed", "cancelled"), timeout=300)
        assert final["job_state"] == "complete", final
    assert (tmp_path / "started").read_text().count("started") == JOBS


def test_sqlite_serves_one_replica_and_says_so(tmp_path):
    first = Service(tmp_path / "svc").start()
    try:
        second = subprocess.run([sys.executable, "-m", "railyard.cli", "serve", "--dev", "--port", "1", "--db", first.db],
                                cwd=REPO, capture_output=True, text=True, timeout=60)
        assert second.returncode == 2
        assert "SQLite serves one replica, use PostgreSQL" in second.stderr
    finally:
        first.stop()
