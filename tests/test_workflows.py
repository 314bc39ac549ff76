"""One conformance suite over every example workflow: train end to end from its spec,
evaluate well above chance, and load back (by `load_model` and `railyard predict`) to give the same scores."""

import json

import numpy as np
import pandas as pd
import pyarrow.dataset as ds
import pytest

import railyard
from railyard import trainer
from railyard.scoring import score_dataset
from tests.conftest import SPECS, example_spec, read_result, write_spec

FAST = {"fraud": {"n_estimators": 60}, "mlp": {"epochs": 2}}


def holdout_rows(spec: dict, data_path) -> pd.DataFrame:
    frame = ds.dataset(data_path).to_table().to_pandas()
    for f in spec["filters"]:
        frame = frame[frame[f["feature_name"]].isin(f["feature_value"]["string_vals"])]
    r = spec["holdout_sampling"].get("date_range_sampling")
    if r is None:
        pytest.skip("holdout rows only recomputed for DATE_RANGE")
    column = frame[r["date_column"]]
    return frame[(column >= pd.Timestamp(r["start_date"], tz="UTC")) & (column < pd.Timestamp(r["end_date"], tz="UTC"))]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SPECS))
def test_example_workflow_trains_end_to_end(name, tmp_path, charges_path):
    spec = example_spec(name, charges_path)
    spec["train"]["custom_params"].update(FAST.get(name, {}))
    output = tmp_path / "run"
    assert trainer.main(["--spec", str(write_spec(tmp_path, spec)), "--output", str(output), "--job-id", "job-1"]) == 0

    result = read_result(output)
    status, body = result["status"], result["result"]
    assert result["exception_info"] is None
    assert status["job_id"] == "job-1"
    assert status["transition"]["job_state"] == "complete"
    assert [t["job_state"] for t in status["transitions"]] == ["running", "complete"]
    assert status["log_file"] == str(output / "trainer.log")
    assert "[railyard] train:" in (output / "trainer.log").read_text()
    assert body["metrics"]["roc_auc"] > 0.65
    assert [s["name"] for s in body["steps"]] == ["load", "filter", "split", "train", "evaluate", "serialize"]
    for step in body["steps"]:
        assert step["wall_seconds"] >= 0 and step["peak_memory_bytes"] > 0
    assert json.loads((output / "metrics.json").read_text()) == body["metrics"]

    scores = pd.read_csv(body["evaluation_holdout_data_path"], sep="\t")
    labels = pd.read_csv(body["evaluation_holdout_label_path"], sep="\t")
    assert list(scores.columns) == ["score"] and list(labels.columns) == [spec["train"]["label"]]
    assert len(scores) == len(labels) == body["holdout_rows"]

    model = railyard.load_model(str(output), expected_id=body["model_id"])
    assert model.model_id == body["model_id"]
    assert railyard.load_model(body["model_id"], root=str(tmp_path)).model_id == body["model_id"]
    report = score_dataset(str(output / "model" / model.model_id), str(charges_path), str(tmp_path / "predicted.parquet"), batch_rows=5_000)
    assert report.model_id == model.model_id and report.rows == 20_000
    predicted = pd.read_parquet(tmp_path / "predicted.parquet")["score"]
    np.testing.assert_allclose(predicted, model.score(pd.read_parquet(charges_path)), rtol=1e-6, atol=1e-7)
    if spec["holdout_sampling"]["sampling_function"] == "DATE_RANGE":
        rows = holdout_rows(spec, charges_path)
        assert labels[spec["train"]["label"]].tolist() == rows[spec["train"]["label"]].astype(int).tolist()
        np.testing.assert_allclose(model.score(rows), scores["score"].to_numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.slow
def test_partitioned_dataset_and_pruning(tmp_path, partitioned_charges_path):
    spec = example_spec("fraud", partitioned_charges_path)
    spec["train"]["custom_params"]["n_estimators"] = 20
    spec["filters"].append(
        {"feature_name": "created_at", "predicate": "GreaterThanOrEqual", "feature_value": {"timestamp_vals": ["2018-07-01"]}}
    )
    output = tmp_path / "run"
    assert trainer.main(["--spec", str(write_spec(tmp_path, spec)), "--output", str(output)]) == 0
    load = read_result(output)["result"]["steps"][0]
    read, total = map(int, load["details"]["row_groups_read"].split("/"))
    assert read < total  # the months before July are never read
    assert load["rows_out"] < load["rows_in"] == 20_000


@pytest.mark.slow
def test_two_sources_joined_on_keys(tmp_path, charges_path):
    frame = ds.dataset(charges_path).to_table().to_pandas()
    charges_only = tmp_path / "charges.parquet"
    cards = tmp_path / "cards.parquet"
    frame.drop(columns=["card_country", "countries_used_24h"]).to_parquet(charges_only)
    frame[["charge_id", "card_country", "countries_used_24h"]].sample(frac=1, random_state=1).to_parquet(cards)
    spec = example_spec("logreg", charges_only)
    spec["data"]["features"] = [
        {"names": ["charge_id", "created_at", "charge_type", "charge_amount", "charge_country", "has_fraud_dispute"], "path": str(charges_only)},
        {"names": ["charge_id", "card_country", "countries_used_24h"], "path": str(cards)},
    ]
    spec["data"]["join_keys"] = ["charge_id"]
    output = tmp_path / "run"
    assert trainer.main(["--spec", str(write_spec(tmp_path, spec)), "--output", str(output)]) == 0
    result = read_result(output)["result"]
    assert result["training_rows"] + result["holdout_rows"] == 20_000
    assert result["metrics"]["roc_auc"] > 0.65


@pytest.fixture(scope="module")
def descriptions_path(tmp_path_factory):
    from workflows.data import descriptions

    return descriptions.write(12_000, tmp_path_factory.mktemp("text") / "descriptions.parquet")


@pytest.fixture(scope="module")
def volumes_path(tmp_path_factory):
    from workflows.data import volumes

    return volumes.write(730, tmp_path_factory.mktemp("series") / "volumes.parquet")


def train_example(name: str, data_path, tmp_path, **changes) -> tuple[dict, dict]:
    spec = example_spec(name, data_path)
    for key, value in changes.items():
        spec["train"][key] = value
    if "label" in changes:
        spec["data"]["features"][0]["names"][-1] = changes["label"]
    tmp_path.mkdir(parents=True, exist_ok=True)
    output = tmp_path / "run"
    assert trainer.main(["--spec", str(write_spec(tmp_path, spec)), "--output", str(output)]) == 0
    return spec, read_result(output)["result"]


@pytest.mark.slow
def test_fasttext_multiclass_and_binary(tmp_path, descriptions_path):
    _, result = train_example("fasttext", descriptions_path, tmp_path / "multi")
    assert result["metrics"]["kind"] == "multiclass_classification"
    assert result["metrics"]["accuracy"] > 0.6 and result["metrics"]["macro_f1"] > 0.6
    model = railyard.load_model(str(tmp_path / "multi" / "run"), expected_id=result["model_id"])
    assert model.manifest["model"]["format"] == "fasttext"
    rows = pd.read_parquet(descriptions_path).head(200)
    assert set(model.score(rows)) <= {"food", "retail", "software", "travel"}

    _, binary = train_example("fasttext", descriptions_path, tmp_path / "binary", label="is_disputed")
    assert binary["metrics"]["kind"] == "binary_classification" and binary["metrics"]["roc_auc"] > 0.8
    scores = pd.read_csv(binary["evaluation_holdout_data_path"], sep="\t")["score"].to_numpy()
    reloaded = railyard.load_model(binary["model_id"], root=str(tmp_path / "binary"))
    holdout = pd.read_parquet(descriptions_path)
    mask = np.random.default_rng(3).random(len(holdout)) < 0.2  # the spec's RANDOM split
    np.testing.assert_allclose(reloaded.score(holdout[mask]), scores, rtol=1e-5)


@pytest.mark.slow
def test_prophet_forecast(tmp_path, volumes_path):
    spec, result = train_example("prophet", volumes_path, tmp_path)
    metrics = result["metrics"]
    assert metrics["kind"] == "regression" and metrics["mape"] < 0.05
    forecast = pd.read_csv(result["evaluation_holdout_data_path"], sep="\t")
    assert list(forecast.columns) == ["yhat", "yhat_lower", "yhat_upper"] and len(forecast) == 92
    assert (forecast.yhat_lower <= forecast.yhat).all() and (forecast.yhat <= forecast.yhat_upper).all()
    model = railyard.load_model(str(tmp_path / "run"), expected_id=result["model_id"])
    assert model.manifest["model"]["format"] == "prophet" and model.features == ["day", "marketing_spend"]
    horizon = pd.read_parquet(volumes_path).iloc[-92:]
    np.testing.assert_allclose(model.score(horizon)["yhat"].to_numpy(), forecast.yhat.to_numpy(), rtol=1e-6)
