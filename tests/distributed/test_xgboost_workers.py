"""The fraud workflow on 2 and 3 workers, each a trainer process, over XGBoost's collective on loopback.

A job of N workers evaluates the same holdout rows, in the same order, as a job of one, with
about the same AUC; worker 0 writes the job's outputs and the others only their logs.
"""

import json

import numpy as np
import pandas as pd
import pytest

import railyard
from railyard import trainer
from tests.conftest import example_spec, read_result, run_trainer, write_spec
from tests.distributed.holdout import holdout_frame
from tests.distributed.workers import finish, output_files, run, run_with_worker_1_failing, run_workers, start_worker

RANDOM = {"sampling_function": "RANDOM", "random_sampling": {"fraction": 0.2, "seed": 3}}
OUTPUTS = ["charts.json", "labels.tsv", "metrics.json", "progress.json", "report.html", "result.json", "scores.tsv", "trainer.log"]


def fraud_spec(data_path, workers: int, **overrides) -> dict:
    spec = example_spec("fraud", data_path, workers=workers, **overrides)
    spec["train"]["custom_params"]["n_estimators"] = 30
    return spec


def train_one_worker(tmp_path, spec: dict) -> dict:
    output = tmp_path / "one"
    assert trainer.main(["--spec", str(write_spec(tmp_path, spec, "one.json")), "--output", str(output), "--job-id", "one"]) == 0
    return read_result(output)["result"]


def train_on_workers(tmp_path, spec: dict, workers: int) -> dict:
    tmp_path.mkdir(parents=True, exist_ok=True)
    output = tmp_path / f"on-{workers}"
    spec_path = write_spec(tmp_path, {**spec, "workers": workers}, f"on-{workers}.json")
    finished = run_workers(workers, "--spec", spec_path, "--output", output, "--job-id", f"on-{workers}")
    assert [w.returncode for w in finished] == [0] * workers, [w.stderr[-2000:] for w in finished]
    result = read_result(output)
    assert result["status"]["transition"]["job_state"] == "complete"
    return result["result"]


def scores_and_labels(result: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    return (pd.read_csv(result["evaluation_holdout_data_path"], sep="\t"),
            pd.read_csv(result["evaluation_holdout_label_path"], sep="\t"))


def assert_scores_are_the_holdout_rows(tmp_path, result: dict, rows: pd.DataFrame) -> None:
    """scores.tsv is the run's model scoring `rows`, row for row: the run evaluated exactly these rows."""
    model = railyard.load_model(result["model_id"], root=str(tmp_path))
    scores, _ = scores_and_labels(result)
    np.testing.assert_allclose(model.score(rows), scores["score"].to_numpy(), rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory, charges_path):
    tmp_path = tmp_path_factory.mktemp("one-worker")
    return tmp_path, train_one_worker(tmp_path, fraud_spec(charges_path, 1))


@pytest.mark.slow
@pytest.mark.parametrize("workers", [2, 3])
def test_fraud_on_workers_evaluates_the_single_workers_holdout(workers, one_worker, tmp_path, charges_path):
    one_tmp, one = one_worker
    spec = fraud_spec(charges_path, workers)
    result = train_on_workers(tmp_path, spec, workers)

    assert (result["training_rows"], result["holdout_rows"]) == (one["training_rows"], one["holdout_rows"])
    scores, labels = scores_and_labels(result)
    pd.testing.assert_frame_equal(labels, scores_and_labels(one)[1])
    assert len(scores) == result["holdout_rows"]
    assert abs(result["metrics"]["roc_auc"] - one["metrics"]["roc_auc"]) < 0.01
    assert_scores_are_the_holdout_rows(tmp_path, result, holdout_frame(spec))
    assert (result["workers"], one["workers"]) == (workers, 1)
    # the steps count the whole job's rows, as one worker's do
    assert [(s["name"], s["rows_in"], s["rows_out"]) for s in result["steps"]] == [
        (s["name"], s["rows_in"], s["rows_out"]) for s in one["steps"]]

    output = tmp_path / f"on-{workers}"
    workers_files = [f"workers/{i}/{name}" for i in range(1, workers) for name in ("progress.json", "trainer.log")]
    assert output_files(output) == sorted(OUTPUTS + [f"model/{result['model_id']}"] + workers_files)
    for i in range(1, workers):
        assert f"worker {i} of {workers}: trained its share" in (output / "workers" / str(i) / "trainer.log").read_text()


@pytest.mark.slow
def test_random_holdout_is_the_same_on_one_and_three_workers(tmp_path, charges_path):
    spec = fraud_spec(charges_path, 1, holdout_sampling=RANDOM)
    one = train_one_worker(tmp_path, spec)
    three = train_on_workers(tmp_path, spec, 3)

    pd.testing.assert_frame_equal(scores_and_labels(three)[1], scores_and_labels(one)[1])
    rows = holdout_frame(spec)
    assert len(rows) == one["holdout_rows"] == three["holdout_rows"]
    assert_scores_are_the_holdout_rows(tmp_path, one, rows)
    assert_scores_are_the_holdout_rows(tmp_path, three, rows)
    assert abs(three["metrics"]["roc_auc"] - one["metrics"]["roc_auc"]) < 0.01


def test_one_worker_writes_what_it_always_wrote(tmp_path, charges_path):
    result = train_one_worker(tmp_path, fraud_spec(charges_path, 1))
    assert output_files(tmp_path / "one") == sorted(OUTPUTS + [f"model/{result['model_id']}"])
    assert [s["name"] for s in result["steps"]] == ["load", "filter", "split", "train", "evaluate", "serialize"]


def test_workers_with_a_workflow_that_is_not_distributed_exits_2_naming_it(tmp_path, charges_path):
    spec_path = write_spec(tmp_path, example_spec("logreg", charges_path, workers=2))
    finished = run_trainer("--spec", spec_path, "--output", tmp_path / "run", "--job-id", "logreg")
    assert finished.returncode == 2
    result = read_result(tmp_path / "run")
    assert result["exception_info"]["type"] == "SpecError"
    assert result["exception_info"]["message"].startswith("workers: workflow LogisticRegressionModel trains on one worker only")

    planned = run_trainer("--plan", "--spec", spec_path)
    assert planned.returncode == 2 and "LogisticRegressionModel" in json.loads(planned.stdout)["error"]


@pytest.mark.slow
def test_a_share_without_holdout_rows_fails_every_worker_with_one_line(tmp_path, charges_path):
    one_week = {"sampling_function": "DATE_RANGE",
                "date_range_sampling": {"date_column": "created_at", "start_date": "2018-12-20", "end_date": "2018-12-27"}}
    spec_path = write_spec(tmp_path, fraud_spec(charges_path, 3, holdout_sampling=one_week))
    finished = run_workers(3, "--spec", spec_path, "--output", tmp_path / "run", "--job-id", "short")
    assert [w.returncode for w in finished] == [2, 2, 2]
    result = read_result(tmp_path / "run")
    assert result["exception_info"]["type"] == "DataError"
    assert "share of the input has no holdout rows after the split" in result["exception_info"]["message"]
    assert not (tmp_path / "run" / "workers" / "1" / "result.json").exists()


@pytest.mark.slow
def test_two_worker_runs_of_one_spec_make_the_same_model(tmp_path, charges_path):
    spec = fraud_spec(charges_path, 2)
    first = train_on_workers(tmp_path / "first", spec, 2)
    second = train_on_workers(tmp_path / "second", spec, 2)
    assert first["model_id"] == second["model_id"]


@pytest.mark.slow
def test_workers_wait_for_a_late_worker_0(tmp_path, charges_path):
    """Worker 0 runs the tracker; the others keep trying to reach it, as pods that start seconds apart must."""
    import time

    from tests.conftest import free_port

    output, port = tmp_path / "late", free_port()
    args = ("--spec", write_spec(tmp_path, fraud_spec(charges_path, 2), "late.json"), "--output", output, "--job-id", "late")
    late = start_worker(1, 2, port, *args)
    time.sleep(15)  # well past XGBoost's own few seconds of retries
    finished = finish([late, start_worker(0, 2, port, *args)], timeout=300)
    assert [w.returncode for w in finished] == [0, 0], [w.stderr[-2000:] for w in finished]
    assert read_result(output)["status"]["transition"]["job_state"] == "complete"


def test_a_rendezvous_name_that_never_resolves_is_one_line():
    from railyard.distributed.env import WorkerEnvError
    from railyard.distributed.xgboost_collective import wait_until_resolved

    with pytest.raises(WorkerEnvError, match=r"^RAILYARD_RENDEZVOUS_HOST no-such-worker-0\.invalid did not resolve within 2 s"):
        wait_until_resolved("no-such-worker-0.invalid", timeout_s=2)


# Worker `rank` of a collective that fails inside it, worker 0 first and the others `rank` seconds later.
FAILING_LATE = """
import time
from railyard.distributed.env import WorkerEnv
from railyard.distributed.xgboost_collective import communicator

env = WorkerEnv.from_environ()
try:
    with communicator(env) as exchange:
        exchange.allgather(env.rank)
        time.sleep(env.rank)
        raise ValueError(f"worker {env.rank} failed")
except ValueError as exc:
    print(exc, flush=True)
"""


def test_workers_failing_after_worker_0_still_exit_at_once():
    """Worker 0's tracker is gone by the time the others fail; leaving must not wait on it for minutes."""
    finished = run(["-c", FAILING_LATE], 3, timeout=60)  # XGBoost's retries would take 300 s
    assert [w.returncode for w in finished] == [0, 0, 0]
    assert [w.stdout.splitlines()[-1] for w in finished] == ["worker 0 failed", "worker 1 failed", "worker 2 failed"]


@pytest.mark.slow
def test_a_worker_whose_link_broke_exits_3_with_worker_link_lost(tmp_path, charges_path):
    # worker 0 is inside XGBoost's fit, waiting on worker 1, when worker 1 fails
    finished = run_with_worker_1_failing(tmp_path, fraud_spec(charges_path, 2), "workflows.fraud.workflow:StripeFraudModel")
    assert [w.returncode for w in finished] == [3, 1], [w.stderr[-2000:] for w in finished]
    assert "worker 1's own bug" in finished[1].stderr
    info = read_result(tmp_path / "run")["exception_info"]
    assert info["type"] == "WorkerLinkLost" and info["exit_code"] == 3
    assert info["message"].startswith("worker 0 of 2 lost its link to the others (another worker failed or left first")
    assert "\n" not in info["message"]
    reason = info["message"].split("its log says why): ", 1)[1]
    assert not reason.startswith(("[", "-")) and "[bt]" not in reason, reason  # XGBoost's reason, not its location header


def test_worker_0_that_cannot_listen_fails_on_its_own_not_as_a_lost_link(tmp_path, charges_path):
    import socket

    from tests.conftest import free_port

    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))  # the tracker's port, held by someone else
        taken.listen()
        spec_path = write_spec(tmp_path, fraud_spec(charges_path, 2))
        worker = start_worker(0, 2, port, "--spec", spec_path, "--output", tmp_path / "run", "--job-id", "taken")
        _, stderr = worker.communicate(timeout=120)
    assert worker.returncode == 1, stderr[-2000:]
    info = read_result(tmp_path / "run")["exception_info"]
    assert (info["type"], info["exit_code"]) == ("TrainingError", 1)
    assert info["message"] == (f"worker 0 cannot start XGBoost's tracker at 127.0.0.1:{port}: "
                               "Failed to bind socket. system error:Address already in use")


@pytest.mark.slow
def test_steps_of_two_joined_sources_count_the_second_source_once(tmp_path, charges_path):
    import pyarrow.dataset as ds

    frame = ds.dataset(charges_path).to_table().to_pandas()
    charges_only, amounts = tmp_path / "charges.parquet", tmp_path / "amounts.parquet"
    frame.drop(columns=["charge_amount"]).to_parquet(charges_only, row_group_size=2_000)
    frame[["charge_id", "charge_amount"]].iloc[::2].to_parquet(amounts)  # half the charges have an amount
    spec = fraud_spec(charges_path, 1)
    spec["data"]["features"] = [
        {"names": ["charge_id", "created_at", "charge_type", "charge_country", "has_fraud_dispute"], "path": str(charges_only)},
        {"names": ["charge_id", "charge_amount"], "path": str(amounts)},
    ]
    spec["data"]["join_keys"] = ["charge_id"]
    one = train_one_worker(tmp_path, spec)
    two = train_on_workers(tmp_path, spec, 2)
    counted = [(s["name"], s["rows_in"], s["rows_out"]) for s in two["steps"]]
    assert counted == [(s["name"], s["rows_in"], s["rows_out"]) for s in one["steps"]]
    assert counted[0][1] == len(frame) + len(frame.iloc[::2])
