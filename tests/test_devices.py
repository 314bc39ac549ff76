"""GPU runs: fail at once without a CUDA device, or fall back to the CPU when the spec allows it."""

import pytest

from railyard.devices import cuda_device_count, resolve_device
from railyard.errors import UserError
from tests.conftest import example_spec, read_result, run_trainer, write_spec

NO_GPU = cuda_device_count() == 0


def test_cpu_and_high_memory_train_on_the_cpu():
    assert resolve_device("CPU", False) == ("cpu", None)
    assert resolve_device("HIGH_MEMORY", False) == ("cpu", None)


def test_cuda_visible_devices_can_hide_every_gpu(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    with pytest.raises(UserError, match="no CUDA device is visible"):
        resolve_device("GPU", False)


@pytest.mark.skipif(not NO_GPU, reason="this machine has a GPU")
@pytest.mark.slow
def test_gpu_run_without_a_gpu_stops_before_reading_data(tmp_path, charges_path):
    spec = example_spec("mlp", charges_path, compute_resource="GPU")
    run = run_trainer("--spec", write_spec(tmp_path, spec), "--output", tmp_path / "out")
    assert run.returncode == 2
    assert "compute_resource: GPU was requested but no CUDA device is visible" in run.stderr
    assert "[railyard] load:" not in run.stderr
    assert read_result(tmp_path / "out")["exception_info"]["type"] == "UserError"


@pytest.mark.skipif(not NO_GPU, reason="this machine has a GPU")
@pytest.mark.slow
@pytest.mark.parametrize("workflow", ["fraud", "mlp"])
def test_gpu_run_may_fall_back_to_the_cpu(tmp_path, charges_path, workflow):
    spec = example_spec(workflow, charges_path, compute_resource="GPU", allow_cpu_fallback=True)
    spec["train"]["custom_params"].update({"n_estimators": 20} if workflow == "fraud" else {"epochs": 2})
    run = run_trainer("--spec", write_spec(tmp_path, spec), "--output", tmp_path / "out")
    assert run.returncode == 0, run.stderr
    assert "training on the CPU (allow_cpu_fallback)" in run.stderr
    result = read_result(tmp_path / "out")["result"]
    assert result["device"] == "cpu" and result["metrics"]["roc_auc"] > 0.6
