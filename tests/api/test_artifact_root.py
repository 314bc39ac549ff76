"""One artifact root for the trainer, the CLI, the service and load_model: a model the service trained with
its defaults is found by id by `railyard predict` and `load_model` with theirs."""

import os
import subprocess
import sys

import httpx
import pytest

from tests.api.service import Service
from tests.conftest import REPO, example_spec

pytestmark = pytest.mark.slow


def test_predict_finds_by_id_a_model_the_service_trained_with_defaults(tmp_path, charges_path, monkeypatch):
    root = tmp_path / "artifacts"
    env = {"RAILYARD_ARTIFACTS": str(root)}
    service = Service(tmp_path / "svc", env, defaults=True).start()
    try:
        spec = example_spec("fraud", charges_path)
        spec["train"]["custom_params"]["n_estimators"] = 10
        job_id = httpx.post(f"{service.url}/train", json={"spec": spec, "binary": "dev"}).json()["job_id"]
        assert service.wait_for(job_id, ("complete", "failed"))["job_state"] == "complete"
        model_id = httpx.get(f"{service.url}/job/{job_id}/result").json()["result"]["model_id"]
    finally:
        service.stop()
    assert (root / "runs" / job_id / "result.json").exists() and (root / "railyard.db").exists()
    scored = subprocess.run([sys.executable, "-m", "railyard.cli", "predict", "--model", model_id, "--data", str(charges_path),
                             "--output", str(tmp_path / "scores.parquet")], cwd=REPO, capture_output=True, text=True,
                            env={**os.environ, **env})
    assert scored.returncode == 0, scored.stderr
    assert f"with {model_id}" in scored.stdout
    monkeypatch.setenv("RAILYARD_ARTIFACTS", str(root))
    from railyard import load_model

    assert load_model(model_id).model_id == model_id
