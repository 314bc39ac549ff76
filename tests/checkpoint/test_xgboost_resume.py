"""Pre-empted XGBoost training resumes where it stopped and ends with the uninterrupted run's model.

Each run is the trainer command in a process of its own, as a launcher starts it; a
retry is the same command with the same --spec and --output.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from railyard.errors import EXIT_PREEMPTED
from tests.checkpoint.trainer_runs import finished, newest_checkpoint, train, uninterrupted_run
from tests.conftest import example_spec, read_result, write_spec

ROUNDS = 200


def at(round_: int) -> str:
    return f"iteration {round_}/{ROUNDS},"


def fraud_spec(charges_path: Path, **custom) -> dict:
    spec = example_spec("fraud", charges_path, checkpoints={"every_iterations": 25})
    spec["train"]["custom_params"].update({"n_estimators": ROUNDS, **custom})
    return spec


@pytest.fixture(scope="module")
def uninterrupted(charges_path, tmp_path_factory) -> dict:
    return uninterrupted_run(fraud_spec(charges_path), tmp_path_factory.mktemp("uninterrupted"))


def test_sigterm_at_three_points_each_resumed_ends_with_the_uninterrupted_model(charges_path, tmp_path, uninterrupted):
    spec, output = write_spec(tmp_path, fraud_spec(charges_path)), tmp_path / "out"
    stopped_at = []
    for point in (7, 90, 180):
        code, log = train(spec, output, stop_at=at(point))
        assert code == EXIT_PREEMPTED, log[-3000:]
        failure = read_result(output)["exception_info"]
        assert failure["type"] == "Preempted" and failure["exit_code"] == EXIT_PREEMPTED
        stopped_at.append(newest_checkpoint(output))
    assert stopped_at[0] >= 7 and stopped_at == sorted(stopped_at)
    code, log = train(spec, output)
    assert code == 0, log[-3000:]
    result = finished(output)
    assert result["model_id"] == uninterrupted["model_id"]
    assert result["metrics"] == uninterrupted["metrics"]
    resumed = result["checkpoints"]["resumed"]
    assert resumed["from_iteration"] == stopped_at[-1] and resumed["exact"] is True
    assert f"resuming training from iteration {stopped_at[-1]}" in log
    curve = result["learning_curve"]["points"]
    assert [p["iteration"] for p in curve] == list(range(1, ROUNDS + 1)), "the learning curve lost the rounds before the resume"
    assert not os.listdir(output / "checkpoints"), "a finished run keeps its model, not its checkpoints"


def test_sigkill_resumes_from_the_last_periodic_checkpoint(charges_path, tmp_path, uninterrupted):
    spec, output = write_spec(tmp_path, fraud_spec(charges_path)), tmp_path / "out"
    code, _ = train(spec, output, stop_at=at(110), sig=signal.SIGKILL)
    assert code == -signal.SIGKILL
    newest = max(os.listdir(output / "checkpoints"))
    assert newest.endswith("000000100.ckpt") or newest.endswith("000000125.ckpt")  # every 25 rounds
    code, log = train(spec, output)
    assert code == 0, log[-3000:]
    result = finished(output)
    assert result["model_id"] == uninterrupted["model_id"]
    resumed = result["checkpoints"]["resumed"]
    assert resumed["from_iteration"] % 25 == 0 and resumed["redone_iterations"] >= 109 - resumed["from_iteration"]  # progress.json may trail the log by one


def test_a_checkpoint_of_another_spec_or_data_is_not_used(charges_path, tmp_path):
    data = tmp_path / "charges.parquet"
    data.write_bytes(charges_path.read_bytes())
    spec_path, output = write_spec(tmp_path, fraud_spec(data)), tmp_path / "out"
    assert train(spec_path, output, stop_at=at(60))[0] == EXIT_PREEMPTED

    other = write_spec(tmp_path, fraud_spec(data, max_depth=3), name="other.json")
    code, log = train(other, output, stop_at=at(60))
    assert code == EXIT_PREEMPTED and "another spec; training starts over" in log

    os.utime(data, (1_000_000_000, 1_000_000_000))  # the same path, but the file changed since
    code, log = train(other, output)
    assert code == 0 and "another data; training starts over" in log
    assert finished(output)["checkpoints"]["resumed"] is None


def test_no_resume_starts_over(charges_path, tmp_path, uninterrupted):
    spec, output = write_spec(tmp_path, fraud_spec(charges_path)), tmp_path / "out"
    assert train(spec, output, stop_at=at(60))[0] == EXIT_PREEMPTED
    code, log = train(spec, output, "--no-resume")
    assert code == 0 and "resuming" not in log
    result = finished(output)
    assert result["checkpoints"]["resumed"] is None and result["model_id"] == uninterrupted["model_id"]


SAMPLING = {"subsample": 0.7, "colsample_bynode": 0.5}  # two features: each node sees one, drawn at random


def test_sampling_resumed_twice_ends_with_the_uninterrupted_model(charges_path, tmp_path):
    """Row and column sampling draw from a random state a saved booster does not keep; each round's draws follow
    from the seed and the round alone, so a run stopped twice, once by SIGKILL, ends with the uninterrupted model."""
    for run in ("whole", "plain"):
        (tmp_path / run).mkdir()
    uninterrupted = uninterrupted_run(fraud_spec(charges_path, **SAMPLING), tmp_path / "whole")
    assert uninterrupted["model_id"] != uninterrupted_run(fraud_spec(charges_path), tmp_path / "plain")["model_id"]
    spec, output = write_spec(tmp_path, fraud_spec(charges_path, **SAMPLING)), tmp_path / "out"
    assert train(spec, output, stop_at=at(60))[0] == EXIT_PREEMPTED
    assert train(spec, output, stop_at=at(140), sig=signal.SIGKILL)[0] == -signal.SIGKILL
    code, log = train(spec, output)
    assert code == 0, log[-3000:]
    result = finished(output)
    resumed = result["checkpoints"]["resumed"]
    assert resumed["from_iteration"] in (125, 150) and resumed["exact"] is True, resumed
    assert result["model_id"] == uninterrupted["model_id"]
    assert result["metrics"] == uninterrupted["metrics"]


def test_sampling_as_xgboost_does_resumes_and_says_the_model_may_differ(charges_path, tmp_path):
    spec = fraud_spec(charges_path, **SAMPLING)
    spec["checkpoints"]["exact"] = False
    spec_path, output = write_spec(tmp_path, spec), tmp_path / "out"
    assert train(spec_path, output, stop_at=at(60))[0] == EXIT_PREEMPTED
    code, log = train(spec_path, output)
    assert code == 0, log[-3000:]
    resumed = finished(output)["checkpoints"]["resumed"]
    assert resumed["exact"] is False and "checkpoints.exact is false" in resumed["not_exact_because"]


def test_another_thread_count_resumes_and_says_the_model_may_differ(charges_path, tmp_path, monkeypatch):
    """A retry on a class with more CPUs resumes, but XGBoost splits its histograms by thread."""
    spec, output = write_spec(tmp_path, fraud_spec(charges_path)), tmp_path / "out"
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert train(spec, output, stop_at=at(60))[0] == EXIT_PREEMPTED
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    code, log = train(spec, output)
    assert code == 0, log[-3000:]
    resumed = finished(output)["checkpoints"]["resumed"]
    assert resumed["exact"] is False and "on 1 threads before the resume and on 2 after" in resumed["not_exact_because"]
    assert "the model may differ from an uninterrupted run's" in log
