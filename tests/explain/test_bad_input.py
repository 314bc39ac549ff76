"""Bad input to an explanation job: one line naming what is wrong, exit 2, result.json `failed` and no outputs,
whether it comes through `railyard explain` or the trainer's `--explain`."""

import json
import shutil

import pandas as pd
import pyarrow.parquet as pq
import pytest

from tests.conftest import example_spec
from tests.explain.conftest import explain, result_of, train, trainer_explain

pytestmark = pytest.mark.slow


def failed_with(output, stderr: str, message: str, error_type: str = None) -> None:
    """The job failed on bad input: the error is the log's last line, and nothing looks complete."""
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("[railyard] failed: ") and message in last, stderr
    result = result_of(output)
    assert result["status"]["transition"]["job_state"] == "failed"
    assert result["result"]["kind"] == "explanation"
    info = result["exception_info"]
    assert info["exit_code"] == 2 and message in info["message"] and "traceback" not in info
    if error_type:
        assert info["type"] == error_type
    assert not (output / "explanations.parquet").exists() and not (output / "importance.json").exists()


@pytest.fixture(scope="module")
def thin_data(tmp_path_factory, charges_path):
    folder = tmp_path_factory.mktemp("bad")
    pd.read_parquet(charges_path).drop(columns=["charge_type"]).to_parquet(folder / "no_charge_type.parquet")
    pq.write_table(pq.read_table(charges_path).slice(0, 0), folder / "empty.parquet")
    return folder


def test_an_unknown_model_id(fraud_model, charges_path, tmp_path, monkeypatch):
    unknown = "sha256." + "A" * 52
    run = explain("--model", unknown, "--data", charges_path, "--output", tmp_path / "out")
    assert run.returncode == 2
    failed_with(tmp_path / "out", run.stderr, f"--model: model {unknown} not found under", "ModelRefused")


def test_a_tampered_artifact_is_refused_before_loading(fraud_model, charges_path, tmp_path):
    copy = tmp_path / fraud_model.model_id
    data = bytearray(fraud_model.artifact.read_bytes())
    data[len(data) // 2] ^= 0x01
    copy.write_bytes(bytes(data))
    run = explain("--model", copy, "--data", charges_path, "--output", tmp_path / "out")
    assert run.returncode == 2
    failed_with(tmp_path / "out", run.stderr, "refusing to load a tampered artifact")


def test_a_run_directory_without_the_model_id_cannot_be_verified(fraud_model, charges_path, tmp_path):
    run = trainer_explain("--model", fraud_model.run, "--data", charges_path, "--output", tmp_path / "out")
    assert run.returncode == 2
    failed_with(tmp_path / "out", run.stderr, "a run directory or an artifact not named by its id cannot be verified")
    renamed = tmp_path / "model.zip"
    shutil.copy(fraud_model.artifact, renamed)
    run = trainer_explain("--model", renamed, "--model-id", fraud_model.model_id, "--data", charges_path, "--rows", 3,
                          "--output", tmp_path / "verified")
    assert run.returncode == 0, run.stderr


def test_data_without_a_feature_column_names_it(fraud_model, thin_data, tmp_path):
    run = explain("--model", fraud_model.artifact, "--data", thin_data / "no_charge_type.parquet", "--output", tmp_path / "out")
    assert run.returncode == 2
    failed_with(tmp_path / "out", run.stderr, "lacks the model's feature columns charge_type; the model needs charge_type, charge_amount",
                "DataError")


@pytest.mark.parametrize("rows", ["0", "-3"])
def test_rows_must_be_at_least_one(fraud_model, charges_path, tmp_path, rows):
    run = explain("--model", fraud_model.artifact, "--data", charges_path, "--output", tmp_path / "out", f"--rows={rows}")
    assert run.returncode == 2
    failed_with(tmp_path / "out", run.stderr, f"--rows: expected a whole number of at least 1, got {rows}")


def test_a_key_naming_a_missing_column(fraud_model, charges_path, tmp_path):
    run = explain("--model", fraud_model.artifact, "--data", charges_path, "--output", tmp_path / "out", "--key", "order_id")
    assert run.returncode == 2
    failed_with(tmp_path / "out", run.stderr, "--key order_id: ")
    assert "has no column 'order_id'; its columns: charge_id, created_at" in run.stderr


def test_a_key_that_is_a_feature_would_clash_with_its_contribution(fraud_model, charges_path, tmp_path):
    run = explain("--model", fraud_model.artifact, "--data", charges_path, "--output", tmp_path / "out", "--key", "charge_type")
    assert run.returncode == 2
    failed_with(tmp_path / "out", run.stderr, "--key charge_type: the explanations already have a column 'charge_type'")


def test_an_empty_dataset(fraud_model, thin_data, tmp_path):
    run = explain("--model", fraud_model.artifact, "--data", thin_data / "empty.parquet", "--output", tmp_path / "out")
    assert run.returncode == 2
    failed_with(tmp_path / "out", run.stderr, "holds no rows to explain")


def test_missing_data(fraud_model, tmp_path):
    run = explain("--model", fraud_model.artifact, "--data", tmp_path / "nowhere.parquet", "--output", tmp_path / "out")
    assert run.returncode == 2
    failed_with(tmp_path / "out", run.stderr, "nowhere.parquet does not exist")


def test_a_multi_class_model_is_refused(tmp_path, charges_path):
    """One number per row is explained; a model that picks one of several classes has none."""
    spec = example_spec("logreg", charges_path)
    spec["train"].update(label="charge_country", classifier_features=["charge_amount", "countries_used_24h"])
    trained = train(tmp_path, spec)
    run = explain("--model", trained.artifact, "--data", charges_path, "--output", tmp_path / "out")
    assert run.returncode == 2
    failed_with(tmp_path / "out", run.stderr, f"--model {trained.model_id}: it predicts one of 10 classes of charge_country", "NotExplainable")
    assert json.loads((tmp_path / "out" / "result.json").read_text())["result"]["model_id"] == trained.model_id


def test_the_trainer_needs_model_and_data():
    run = trainer_explain("--data", "x.parquet")
    assert run.returncode == 2
    assert run.stderr.strip().splitlines()[-1] == "railyard-train: error: --explain needs --model and --data"


def test_a_spec_whose_holdout_is_empty(fraud_model, charges_path, tmp_path):
    spec = example_spec("fraud", charges_path)
    spec["holdout_sampling"]["date_range_sampling"].update(start_date="2030-01-01", end_date="2031-01-01")
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    run = explain("--model", fraud_model.artifact, "--data", path, "--output", tmp_path / "out")
    assert run.returncode == 2
    failed_with(tmp_path / "out", run.stderr, f"--data: the holdout set of {path} is empty")


def test_a_key_a_spec_does_not_load(fraud_model, tmp_path):
    run = explain("--model", fraud_model.artifact, "--data", fraud_model.run.parent / "spec.json", "--output", tmp_path / "out",
                  "--key", "charge_id")
    assert run.returncode == 2
    failed_with(tmp_path / "out", run.stderr, "--key charge_id: ")
