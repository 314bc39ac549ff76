"""A pre-empted or killed torch MLP run resumes at the epoch it saved and ends with the uninterrupted run's model:
the module, the optimizer, the shuffling generator and the random states all come back."""

from __future__ import annotations

import signal

import pytest

from railyard.errors import EXIT_PREEMPTED
from tests.checkpoint.trainer_runs import finished, newest_checkpoint, train, uninterrupted_run
from tests.conftest import example_spec, read_result, write_spec

EPOCHS = 12


def mlp_spec(charges_path) -> dict:
    spec = example_spec("mlp", charges_path, checkpoints={"every_iterations": 3})
    spec["train"]["custom_params"].update({"epochs": EPOCHS, "batch_size": 256})
    return spec


@pytest.fixture(scope="module")
def uninterrupted(charges_path, tmp_path_factory) -> dict:
    return uninterrupted_run(mlp_spec(charges_path), tmp_path_factory.mktemp("uninterrupted"))


def test_sigterm_then_the_same_command_ends_with_the_uninterrupted_model(charges_path, tmp_path, uninterrupted):
    spec, output = write_spec(tmp_path, mlp_spec(charges_path)), tmp_path / "out"
    code, log = train(spec, output, stop_at=f"epoch 4/{EPOCHS},")
    assert code == EXIT_PREEMPTED, log[-3000:]
    assert read_result(output)["exception_info"]["type"] == "Preempted"
    stopped = newest_checkpoint(output)
    assert stopped >= 4
    code, log = train(spec, output)
    assert code == 0, log[-3000:]
    result = finished(output)
    assert result["checkpoints"]["resumed"]["from_iteration"] == stopped and result["checkpoints"]["resumed"]["exact"]
    assert result["model_id"] == uninterrupted["model_id"]
    assert [p["iteration"] for p in result["learning_curve"]["points"]] == list(range(1, EPOCHS + 1))


def test_sigkill_resumes_from_the_last_periodic_checkpoint(charges_path, tmp_path, uninterrupted):
    spec, output = write_spec(tmp_path, mlp_spec(charges_path)), tmp_path / "out"
    code, _ = train(spec, output, stop_at=f"epoch 8/{EPOCHS},", sig=signal.SIGKILL)
    assert code == -signal.SIGKILL
    code, log = train(spec, output)
    assert code == 0, log[-3000:]
    result = finished(output)
    assert result["checkpoints"]["resumed"]["from_iteration"] % 3 == 0
    assert result["model_id"] == uninterrupted["model_id"]


SGD_EPOCHS = 20
SGD_MODULE = ("--workflow-module", "tests.checkpoint.sgd_workflow")


def test_a_scikit_learn_estimator_that_continues_resumes_to_the_uninterrupted_model(charges_path, tmp_path):
    """partial_fit epoch by epoch in a workflow's own loop, its state in `sklearn_state`: stopped twice, the same model."""
    spec = example_spec("fraud", charges_path, checkpoints={"every_iterations": 4})
    spec["train"].update(workflow_name="SGDEpochsModel", custom_params={"epochs": SGD_EPOCHS, "seed": 7})
    spec_path = write_spec(tmp_path, spec)
    code, log = train(spec_path, tmp_path / "whole", *SGD_MODULE)
    assert code == 0, log[-3000:]
    uninterrupted = finished(tmp_path / "whole")
    output = tmp_path / "out"
    assert train(spec_path, output, *SGD_MODULE, stop_at=f"epoch 6/{SGD_EPOCHS},")[0] == EXIT_PREEMPTED
    assert train(spec_path, output, *SGD_MODULE, stop_at=f"epoch 15/{SGD_EPOCHS},", sig=signal.SIGKILL)[0] == -signal.SIGKILL
    code, log = train(spec_path, output, *SGD_MODULE)
    assert code == 0, log[-3000:]
    result = finished(output)
    assert result["checkpoints"]["resumed"]["from_iteration"] in (12, 16) and result["checkpoints"]["resumed"]["exact"]
    assert result["model_id"] == uninterrupted["model_id"] and result["metrics"] == uninterrupted["metrics"]
