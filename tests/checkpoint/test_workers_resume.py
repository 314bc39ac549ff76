"""A job of two workers, one of them killed, starts again on both and resumes from their common checkpoint to the
uninterrupted job's model: XGBoost sampling rows and columns (worker 0's booster) and the torch MLP (its model and
optimizer, and each worker's own random state). Real trainer processes over XGBoost's collective and torch.distributed on loopback,
run by the local executor; the retry is the executor's, as the service makes it."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from railyard.api.retries import ended_by_infrastructure
from railyard.launch.binary import resolve
from railyard.launch.job import JobRequest, JobState, JobStatus
from railyard.launch.local import LocalExecutor
from railyard.launch.resources import load_config
from railyard.spec import parse_spec
from railyard.states import FailureReason
from tests.conftest import example_spec, read_result

ROUNDS, EPOCHS = 200, 12
JOBS = {  # workflow: (spec changes, the iteration to kill worker 1 past, the checkpoint interval)
    "xgboost": ({"n_estimators": ROUNDS, "subsample": 0.7, "colsample_bynode": 0.5}, 60, 25),
    "mlp": ({"epochs": EPOCHS, "batch_size": 256}, 5, 3),
}


def two_workers(charges_path, kind: str):
    params, _, every = JOBS[kind]
    spec = example_spec("fraud" if kind == "xgboost" else "mlp", charges_path, workers=2, checkpoints={"every_iterations": every})
    spec["train"]["custom_params"].update(params)
    return parse_spec(spec)


def run(executor: LocalExecutor, request: JobRequest, retry: bool = False) -> JobStatus:
    (executor.retry if retry else executor.submit)(request)
    return list(executor.watch(request.job_id, timeout_seconds=300))[-1]


def iteration(output) -> int:
    try:
        return int(json.loads((output / "progress.json").read_text()).get("iteration") or 0)
    except (OSError, ValueError):
        return 0


@pytest.mark.slow
@pytest.mark.parametrize("kind, sig", [("xgboost", signal.SIGKILL), ("mlp", signal.SIGKILL), ("mlp", signal.SIGTERM)])
def test_a_stopped_worker_restarts_the_job_from_the_common_checkpoint_to_the_same_model(kind, sig, tmp_path, charges_path,
                                                                                      monkeypatch):
    """SIGKILL: the last periodic checkpoint; SIGTERM to one worker (its node drained): every worker checkpoints at
    the next epoch and stops (exit 75)."""
    monkeypatch.setenv("RAILYARD_PROGRESS_SECONDS", "0")
    executor = LocalExecutor(load_config(), tmp_path / "jobs")
    spec, (_, kill_past, every) = two_workers(charges_path, kind), JOBS[kind]
    whole = JobRequest("whole", spec, resolve("dev"), str(tmp_path / "runs" / "whole"))
    assert run(executor, whole).state is JobState.complete, executor.logs("whole")[-3000:]
    uninterrupted = read_result(tmp_path / "runs" / "whole")["result"]["model_id"]

    output = tmp_path / "runs" / "killed"
    killed = JobRequest("killed", spec, resolve("dev"), str(output))
    executor.submit(killed)
    deadline = time.monotonic() + 240
    while iteration(output) <= kill_past:
        assert time.monotonic() < deadline and not executor.status("killed").state.finished, executor.logs("killed")[-3000:]
        time.sleep(0.05)
    os.killpg(int((executor.job_dir("killed") / "trainer.pgid").read_text().split()[1]), sig)
    ended = list(executor.watch("killed", timeout_seconds=120))[-1]
    assert ended.state is JobState.failed and ended_by_infrastructure(ended), ended
    if sig == signal.SIGKILL:
        assert (ended.reason, ended.exit_code) == (FailureReason.WorkerFailed, -signal.SIGKILL)
    assert sorted(os.listdir(output / "checkpoints")), "worker 0 wrote no checkpoint"

    again = run(executor, killed, retry=True)
    assert again.state is JobState.complete, executor.logs("killed")[-3000:]
    result = read_result(output)["result"]
    resumed = result["checkpoints"]["resumed"]
    assert resumed["exact"] is True
    if sig == signal.SIGKILL:
        assert resumed["from_iteration"] >= kill_past - every and resumed["from_iteration"] % every == 0
    else:
        assert resumed["from_iteration"] > kill_past and resumed["redone_iterations"] == 0
    assert result["model_id"] == uninterrupted
    assert "[worker 1] [railyard] resuming training from iteration" in executor.logs("killed")
    assert not os.listdir(output / "checkpoints")


@pytest.mark.parametrize("reason, code, retried", [
    (FailureReason.WorkerFailed, -signal.SIGKILL, True),
    (FailureReason.WorkerFailed, 75, True),
    (FailureReason.WorkerFailed, 1, False),  # the worker's own error
    (FailureReason.WorkerFailed, 3, False),  # its link to the others lost: another worker's story
    (FailureReason.Killed, -signal.SIGKILL, True),
    (FailureReason.OOMKilled, 137, False),
    (FailureReason.WorkerFailed, 137, True),  # SIGKILL in a container, as Kubernetes reports it
    (FailureReason.WorkerFailed, 143, True),
    (FailureReason.WorkerFailed, 139, False),  # SIGSEGV: its own crash
    (FailureReason.WorkerFailed, 200, False),
    (FailureReason.Evicted, None, True),
])
def test_which_failures_of_a_job_of_workers_start_it_again(reason, code, retried):
    assert ended_by_infrastructure(JobStatus(JobState.failed, reason=reason, exit_code=code)) is retried
