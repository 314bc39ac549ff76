"""One conformance suite over every example workflow: train end to end from its spec,
evaluate well above chance, and load back (by `load_model` and `railyard predict`) to give the same scores."""

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

import railyard
from railyard import trainer
from railyard.scoring import LABEL_ENCODING_KEY, score_dataset
from tests.conftest import SPECS, example_spec, read_result, run_trainer, write_spec
from tests.distributed.holdout import holdout_input_rows

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

    assert model.label_encoding.classes == ("food", "retail", "software", "travel") and not model.label_encoding.binary
    assert result["label_encoding"] == {"classes": ["food", "retail", "software", "travel"]}
    assert result["checkpoints"]["written"] == 0 and result["checkpoints"]["not_checkpointed"].startswith(
        "FastTextClassifier trains without a loop that takes part in checkpoints")  # a retry starts over, and says so
    assert set(pd.read_csv(result["evaluation_holdout_data_path"], sep="\t")["score"]) <= {"food", "retail", "software", "travel"}
    assert set(pd.read_csv(result["evaluation_holdout_label_path"], sep="\t")["category"]) == {"food", "retail", "software", "travel"}
    score_dataset(str(tmp_path / "multi" / "run" / "model" / model.model_id), str(descriptions_path), str(tmp_path / "classes.parquet"))
    predicted = pq.read_table(tmp_path / "classes.parquet").column("score")
    assert str(predicted.type) == "string" and predicted.to_pylist()[:200] == model.score(rows).tolist()

    binary_spec, binary = train_example("fasttext", descriptions_path, tmp_path / "binary", label="is_disputed")
    assert binary["metrics"]["kind"] == "binary_classification" and binary["metrics"]["roc_auc"] > 0.8
    scores = pd.read_csv(binary["evaluation_holdout_data_path"], sep="\t")["score"].to_numpy()
    reloaded = railyard.load_model(binary["model_id"], root=str(tmp_path / "binary"))
    holdout = holdout_input_rows(binary_spec)  # the spec's RANDOM split
    assert len(holdout) == binary["holdout_rows"]
    np.testing.assert_allclose(reloaded.score(holdout), scores, rtol=1e-5)
    unseen = pd.DataFrame({"merchant_name": ["a shop no one has seen"], "description": ["refund never arrived, card disputed"]})
    assert 0.0 <= reloaded.score(unseen)[0] <= 1.0  # text not seen in training is read, not dropped


@pytest.mark.slow
def test_prophet_forecast(tmp_path, volumes_path):
    spec, result = train_example("prophet", volumes_path, tmp_path)
    metrics = result["metrics"]
    assert metrics["kind"] == "regression" and metrics["mape"] < 0.05
    assert "a retry trains from the start" in result["checkpoints"]["not_checkpointed"]
    forecast = pd.read_csv(result["evaluation_holdout_data_path"], sep="\t")
    assert list(forecast.columns) == ["yhat", "yhat_lower", "yhat_upper"] and len(forecast) == 92
    assert (forecast.yhat_lower <= forecast.yhat).all() and (forecast.yhat <= forecast.yhat_upper).all()
    model = railyard.load_model(str(tmp_path / "run"), expected_id=result["model_id"])
    assert model.manifest["model"]["format"] == "prophet" and model.features == ["day", "marketing_spend"]
    horizon = pd.read_parquet(volumes_path).iloc[-92:]
    np.testing.assert_allclose(model.score(horizon)["yhat"].to_numpy(), forecast.yhat.to_numpy(), rtol=1e-6)


@pytest.mark.slow
def test_a_monthly_series_trains_on_a_forecasts_defaults(tmp_path):
    """AirPassengers' shape: 144 months, the last 12 held out, no min_training_examples in the spec."""
    months = pd.date_range("1949-01-01", periods=144, freq="MS", tz="UTC")
    trend = np.linspace(110, 450, 144) * (1 + 0.15 * np.sin(2 * np.pi * np.arange(144) / 12))
    pq.write_table(pa.table({"month": months, "passengers": trend}), tmp_path / "air.parquet")
    spec = example_spec("prophet", tmp_path / "air.parquet")
    spec.pop("min_training_examples")
    spec["data"] = {"features": [{"names": ["month", "passengers"], "path": str(tmp_path / "air.parquet")}], "date_column": "month"}
    spec["holdout_sampling"]["date_range_sampling"].update(date_column="month", start_date="1960-01-01", end_date="1961-01-01")
    spec["train"].update(classifier_features=[], label="passengers",
                         custom_params={"yearly_seasonality": True, "weekly_seasonality": False, "daily_seasonality": False})
    run = run_trainer("--spec", write_spec(tmp_path, spec), "--output", tmp_path / "run")
    assert run.returncode == 0, run.stderr
    assert "plotly" not in run.stderr  # Prophet's complaint about a library only its interactive plots use
    result = read_result(tmp_path / "run")["result"]
    assert (result["training_rows"], result["holdout_rows"]) == (132, 12)


@pytest.mark.slow
def test_univariate_forecast_without_features(tmp_path, volumes_path):
    spec = example_spec("prophet", volumes_path)
    spec["data"]["features"][0]["names"] = ["day", "volume"]
    spec["train"]["classifier_features"] = []
    output = tmp_path / "run"
    assert trainer.main(["--spec", str(write_spec(tmp_path, spec)), "--output", str(output)]) == 0
    result = read_result(output)["result"]
    assert result["metrics"]["kind"] == "regression" and result["metrics"]["mape"] < 0.1
    model = railyard.load_model(str(output), expected_id=result["model_id"])
    assert model.features == ["day"] and model.label_encoding is None
    horizon = pd.read_parquet(volumes_path, columns=["day"]).iloc[-92:]
    forecast = pd.read_csv(result["evaluation_holdout_data_path"], sep="\t")
    np.testing.assert_allclose(model.score(horizon)["yhat"].to_numpy(), forecast.yhat.to_numpy(), rtol=1e-6)
    score_dataset(str(output / "model" / model.model_id), str(volumes_path), str(tmp_path / "forecast.parquet"))
    scored = pq.read_table(tmp_path / "forecast.parquet")
    assert scored.column_names == ["score", "yhat_lower", "yhat_upper"]  # the forecast with its interval, as in scores.tsv
    assert scored.column("score").to_pylist()[-92:] == pytest.approx(forecast.yhat.tolist())
    frame = scored.to_pandas()  # Prophet samples its interval anew on each call: it brackets the forecast
    assert ((frame.yhat_lower <= frame.score) & (frame.score <= frame.yhat_upper)).all()


@pytest.mark.slow
def test_scores_carry_the_join_keys_back_to_the_input(tmp_path, charges_path):
    spec = example_spec("fraud", charges_path)
    spec["data"]["features"][0]["names"].append("charge_id")
    spec["data"]["join_keys"] = ["charge_id"]
    spec["train"]["custom_params"]["n_estimators"] = 20
    assert trainer.main(["--spec", str(write_spec(tmp_path, spec)), "--output", str(tmp_path / "run")]) == 0
    scores = pd.read_csv(tmp_path / "run" / "scores.tsv", sep="\t")
    assert list(scores.columns) == ["score", "charge_id"]
    expected = holdout_rows(spec, charges_path)
    assert scores.charge_id.tolist() == expected.charge_id.tolist()  # each score beside its own row's key
    labels = pd.read_csv(tmp_path / "run" / "labels.tsv", sep="\t")
    assert labels.has_fraud_dispute.astype(bool).tolist() == expected.has_fraud_dispute.tolist()


@pytest.mark.slow
def test_a_three_class_model_writes_each_class_probability_beside_its_prediction(tmp_path, charges_path):
    spec = example_spec("logreg", charges_path)
    spec["data"]["features"][0]["names"] = ["charge_amount", "card_brand", "countries_used_24h", "charge_type"]
    spec["data"].pop("date_column")
    spec["filters"] = [{"feature_name": "charge_type", "predicate": "NotIn", "feature_value": {"string_vals": ["phone"]}}]
    spec["train"].update(classifier_features=["charge_amount", "card_brand", "countries_used_24h"], label="charge_type")
    assert trainer.main(["--spec", str(write_spec(tmp_path, spec)), "--output", str(tmp_path / "run")]) == 0
    result = read_result(tmp_path / "run")["result"]
    assert result["metrics"]["kind"] == "multiclass_classification"
    scores = pd.read_csv(tmp_path / "run" / "scores.tsv", sep="\t")
    assert list(scores.columns) == ["score", "p_in_person", "p_online", "p_recurring"]
    np.testing.assert_allclose(scores.iloc[:, 1:].sum(axis=1), 1.0, rtol=1e-6)
    assert (scores.iloc[:, 1:].idxmax(axis=1).str.removeprefix("p_") == scores.score).mean() > 0.99  # the likeliest is predicted
    model = railyard.load_model(str(tmp_path / "run" / "model" / result["model_id"]))
    assert set(model.score(pd.read_parquet(charges_path).head(50))) <= {"in_person", "online", "recurring"}  # still the class


@pytest.fixture(scope="module")
def labelled_ways(tmp_path_factory, charges_path):
    """The sample charges with the fraud label four ways: booleans, 'yes'/'no', 2/1 and 'fraud'/'ok'."""
    table = pq.read_table(charges_path)
    fraud = table.column("has_fraud_dispute")
    table = table.append_column("fraud_yes_no", pc.if_else(fraud, "yes", "no"))
    table = table.append_column("fraud_2_1", pc.if_else(fraud, 2, 1))
    path = tmp_path_factory.mktemp("labels") / "charges.parquet"
    pq.write_table(table, path, row_group_size=1_000)
    return path


@pytest.fixture(scope="module")
def zero_one_twin(tmp_path_factory, labelled_ways):
    """The fraud model trained on the boolean label as it is."""
    tmp = tmp_path_factory.mktemp("twin")
    result, scores, labels = train_fraud(labelled_ways, tmp, "has_fraud_dispute")
    return result, scores, labels, railyard.load_model(result["model_id"], root=str(tmp))


def train_fraud(data_path, tmp_path, label: str, positive_label=None) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    spec = example_spec("fraud", data_path)
    if label not in spec["data"]["features"][0]["names"]:
        spec["data"]["features"][0]["names"].append(label)
    spec["train"].update(label=label, custom_params={**spec["train"]["custom_params"], "n_estimators": 30})
    if positive_label is not None:
        spec["train"]["positive_label"] = positive_label
    tmp_path.mkdir(parents=True, exist_ok=True)
    output = tmp_path / "run"
    assert trainer.main(["--spec", str(write_spec(tmp_path, spec)), "--output", str(output)]) == 0
    result = read_result(output)["result"]
    scores = pd.read_csv(result["evaluation_holdout_data_path"], sep="\t")
    labels = pd.read_csv(result["evaluation_holdout_label_path"], sep="\t")
    return result, scores, labels


@pytest.mark.slow
@pytest.mark.parametrize(
    "label, positive, negative",
    [("fraud_yes_no", "yes", "no"), ("has_fraud_dispute", True, False), ("fraud_2_1", 2, 1)],
)
def test_positive_label_trains_and_scores_like_its_zero_one_twin(tmp_path, labelled_ways, zero_one_twin, label, positive, negative):
    twin, twin_scores, twin_labels, twin_model = zero_one_twin
    result, scores, labels = train_fraud(labelled_ways, tmp_path / "named", label, positive)

    metrics = dict(result["metrics"])
    assert metrics.pop("positive_label") == positive
    assert metrics == twin["metrics"] and metrics["roc_auc"] > 0.65
    assert result["label_encoding"] == {"classes": [negative, positive], "positive_label": positive}
    np.testing.assert_array_equal(scores["score"], twin_scores["score"])
    expected = twin_labels["has_fraud_dispute"].map({1: positive, 0: negative})
    assert labels[label].tolist() == expected.astype(labels[label].dtype).tolist()  # the label as the data has it

    model = railyard.load_model(result["model_id"], root=str(tmp_path / "named"))
    assert model.manifest["label_encoding"] == result["label_encoding"]
    output = tmp_path / "predicted.parquet"
    score_dataset(str(tmp_path / "named" / "run" / "model" / result["model_id"]), str(labelled_ways), str(output))
    predicted = pq.read_table(output)
    assert json.loads(predicted.schema.metadata[LABEL_ENCODING_KEY]) == result["label_encoding"]
    np.testing.assert_array_equal(predicted.column("score").to_numpy(), twin_model.score(pd.read_parquet(labelled_ways)))


@pytest.mark.slow
def test_multiclass_string_label_predicts_class_names(tmp_path, charges_path):
    spec = example_spec("logreg", charges_path)
    spec["train"].update(label="charge_type", classifier_features=["charge_amount", "countries_used_24h", "card_country"])
    output = tmp_path / "run"
    assert trainer.main(["--spec", str(write_spec(tmp_path, spec)), "--output", str(output)]) == 0
    result = read_result(output)["result"]
    classes = ["in_person", "online", "phone", "recurring"]
    assert result["metrics"]["kind"] == "multiclass_classification" and result["metrics"]["classes"] == 4
    assert result["label_encoding"] == {"classes": classes}
    model = railyard.load_model(result["model_id"], root=str(tmp_path))
    rows = pd.read_parquet(charges_path).head(500)
    assert set(model.score(rows)) <= set(classes)
    assert set(pd.read_csv(result["evaluation_holdout_label_path"], sep="\t")["charge_type"]) == set(classes)
