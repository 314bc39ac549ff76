"""`railyard serve`, then `railyard submit --wait`, `result`, `jobs`, `logs` and `ship` against it."""

import json
import subprocess
import sys

import pytest

from tests.api.service import Service
from tests.conftest import REPO, example_spec, write_spec

pytestmark = pytest.mark.slow


def railyard(service: Service, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "railyard.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=900, env={**service.env, "RAILYARD_URL": service.url})


def test_submit_wait_then_result(tmp_path, charges_path):
    service = Service(tmp_path / "svc").start()
    try:
        spec = example_spec("fraud", charges_path)
        spec["train"]["custom_params"]["n_estimators"] = 40
        submitted = railyard(service, "submit", str(write_spec(tmp_path, spec)), "--binary", "//workflows:fraud_train", "--wait")
        assert submitted.returncode == 0, submitted.stderr + service.workdir.joinpath("service.log").read_text()
        job_id, *states = submitted.stdout.splitlines()
        assert states == [f"{job_id} queued", f"{job_id} running", f"{job_id} complete"]

        result = railyard(service, "result", job_id)
        assert result.returncode == 0
        assert f"{job_id} complete" in result.stdout and "roc_auc" in result.stdout and "model sha256." in result.stdout
        as_json = json.loads(railyard(service, "result", job_id, "--json").stdout)
        assert as_json["result"]["metrics"]["roc_auc"] > 0.65
        assert as_json["status"]["binary_sha256"] and as_json["status"]["git_commit"]

        listing = railyard(service, "jobs", "--state", "complete")
        assert job_id in listing.stdout and "fraud prediction model" in listing.stdout
        assert "[railyard] complete" in railyard(service, "logs", job_id).stdout
        shipped = json.loads(railyard(service, "ship", job_id, "--json").stdout)
        assert shipped["shipped"] is True and shipped["shipped_by"] == "anonymous"

        bad = railyard(service, "status", "no-such-job")
        assert bad.returncode == 1 and bad.stderr.strip() == "railyard status: 404: no job no-such-job"
    finally:
        service.stop()
