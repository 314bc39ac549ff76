"""The explanation job: the first N rows in input order with their keys, a spec's holdout rows, the trainer's
`--explain` with its log and result.json, outputs on S3, and batching that keeps order."""

import json
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from railyard.explain import ExplainRequest, run_explanation
from railyard.explain.source import _rebatched
from tests.conftest import REPO
from tests.explain.conftest import explain, result_of, trainer_explain


def test_batches_are_regrouped_to_the_batch_size_in_order_and_cut_at_the_limit():
    batches = [pa.record_batch({"n": list(range(start, start + size))}) for start, size in ((0, 3), (3, 5), (8, 1), (9, 6))]
    grouped = list(_rebatched(iter(batches), 4, None))
    assert [t.num_rows for t in grouped] == [4, 4, 4, 3]
    assert pa.concat_tables(grouped).column("n").to_pylist() == list(range(15))
    limited = list(_rebatched(iter(batches), 4, 6))
    assert [t.num_rows for t in limited] == [4, 2]
    assert pa.concat_tables(limited).column("n").to_pylist() == list(range(6))


@pytest.mark.slow
def test_first_n_rows_in_input_order_with_their_keys(fraud_model, charges_path, tmp_path):
    everything, first = tmp_path / "all", tmp_path / "first"
    assert explain("--model", fraud_model.artifact, "--data", charges_path, "--output", everything, "--key", "charge_id",
                   "--key", "merchant_id").returncode == 0
    run = explain("--model", fraud_model.artifact, "--data", charges_path, "--output", first, "--rows", 2_500,
                  "--batch-rows", 1_000, "--key", "charge_id", "--key", "merchant_id")
    assert run.returncode == 0, run.stderr
    head = pq.read_table(first / "explanations.parquet").to_pandas()
    data = pd.read_parquet(charges_path, columns=["charge_id", "merchant_id"]).head(2_500)
    assert head.columns.tolist() == ["charge_id", "merchant_id", "charge_type", "charge_amount", "bias"]
    assert head["charge_id"].tolist() == data["charge_id"].tolist()
    assert head["merchant_id"].tolist() == data["merchant_id"].tolist()
    full = pq.read_table(everything / "explanations.parquet").to_pandas().head(2_500)
    pd.testing.assert_frame_equal(head, full)
    assert result_of(first)["result"]["batches"] == 3
    assert json.loads((first / "importance.json").read_text())["rows"] == 2_500


@pytest.mark.slow
def test_a_spec_explains_its_holdout_rows_in_the_order_training_scored_them(fraud_model, tmp_path):
    spec = fraud_model.run.parent / "spec.json"
    output = tmp_path / "holdout"
    run = explain("--model", fraud_model.artifact, "--data", spec, "--output", output, "--batch-rows", 4_000)
    assert run.returncode == 0, run.stderr
    training = result_of(fraud_model.run)["result"]
    result = result_of(output)["result"]
    assert result["input"] == "holdout rows of a training spec" and result["keys"] == []
    assert result["rows"] == training["holdout_rows"]
    assert [s["name"] for s in result["steps"]] == ["model", "load", "filter", "explain", "publish"]
    frame = pq.read_table(output / "explanations.parquet").to_pandas()
    scores = pd.read_csv(fraud_model.run / "scores.tsv", sep="\t").iloc[:, 0].to_numpy()
    # StripeFraudModel regresses with reg:squarederror: its score is its raw margin
    np.testing.assert_allclose(frame[["charge_type", "charge_amount"]].sum(axis=1) + frame["bias"], scores, rtol=0, atol=1e-4)


@pytest.mark.slow
def test_the_trainer_runs_an_explanation_job(fraud_model, charges_path, tmp_path):
    output = tmp_path / "job"
    run = trainer_explain("--model", fraud_model.artifact, "--data", charges_path, "--rows", 5_000, "--batch-rows", 2_000,
                          "--key", "charge_id", "--output", output, "--job-id", "explain-1")
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in output.iterdir()) == ["explanations.parquet", "importance.json", "result.json", "trainer.log"]
    result = result_of(output)
    assert result["status"]["job_id"] == "explain-1"
    assert result["status"]["log_file"] == str(output / "trainer.log")
    assert [t["job_state"] for t in result["status"]["transitions"]] == ["running", "complete"]
    assert result["result"]["kind"] == "explanation" and result["result"]["model_id"] == fraud_model.model_id
    log = (output / "trainer.log").read_text()
    for batch, rows in ((1, "2,000"), (2, "4,000"), (3, "5,000")):
        assert f"explain: batch {batch}: {rows} of 5,000 rows" in log
    assert "[railyard] complete: explained 5,000 rows" in log
    assert result_of(fraud_model.run)["result"]["kind"] == "training"


@pytest.mark.slow
def test_a_model_id_is_found_under_the_artifact_root_and_the_job_writes_a_run_there(fraud_model, charges_path, tmp_path, monkeypatch):
    monkeypatch.setenv("RAILYARD_ARTIFACTS", str(tmp_path / "artifacts"))
    shutil.copytree(fraud_model.run, tmp_path / "artifacts" / "runs" / "training-1")
    outcome = run_explanation(ExplainRequest(model=fraud_model.model_id, data=str(charges_path), rows=10, job_id="job-7"))
    assert outcome.exit_code == 0
    assert outcome.output == str(tmp_path / "artifacts" / "runs" / "job-7")
    assert result_of(tmp_path / "artifacts" / "runs" / "job-7")["result"]["rows"] == 10


@pytest.mark.slow
def test_outputs_on_s3(fraud_model, charges_path, aws):
    outcome = run_explanation(ExplainRequest(model=str(fraud_model.artifact), data=str(charges_path), rows=1_000,
                                             output="s3://ml-data/explanations/job-1"))
    assert outcome.exit_code == 0
    keys = {o["Key"] for o in aws.list_objects_v2(Bucket="ml-data", Prefix="explanations/job-1/")["Contents"]}
    assert keys == {f"explanations/job-1/{name}" for name in ("explanations.parquet", "importance.json", "result.json", "trainer.log")}
    result = json.loads(aws.get_object(Bucket="ml-data", Key="explanations/job-1/result.json")["Body"].read())
    assert result["status"]["transition"]["job_state"] == "complete"
    assert result["result"]["explanations_path"] == "s3://ml-data/explanations/job-1/explanations.parquet"
    body = aws.get_object(Bucket="ml-data", Key="explanations/job-1/explanations.parquet")["Body"].read()
    assert pq.read_table(pa.BufferReader(body)).num_rows == 1_000


def log_says(output, text: str) -> bool:
    log = output / "trainer.log"
    return log.exists() and text in log.read_text(errors="replace")


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_a_killed_job_leaves_nothing_complete_looking(logreg_model, charges_path, tmp_path, sig):
    output = tmp_path / "job"
    process = subprocess.Popen(
        [sys.executable, "-m", "railyard.trainer", "--explain", "--model", str(logreg_model.artifact), "--data", str(charges_path),
         "--output", str(output)],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not log_says(output, "explaining the first 1,000 of 20,000 rows") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert log_says(output, "explaining the first 1,000 of 20,000 rows"), "the job never started explaining"
    process.send_signal(sig)
    returncode = process.wait(timeout=60)
    result = result_of(output)
    state = result["status"]["transition"]["job_state"]
    if sig == signal.SIGKILL:
        assert returncode == -signal.SIGKILL and state == "running"
    else:
        assert returncode == 143 and state == "failed"
        assert result["exception_info"]["message"] == "terminated by SIGTERM"
        assert result["result"]["kind"] == "explanation" and result["result"]["model_id"] == logreg_model.model_id
    assert sorted(p.name for p in output.iterdir()) == ["result.json", "trainer.log"]
