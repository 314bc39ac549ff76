"""Checks before training: each failure is one line naming the field and value, exit code 2,
and nothing is left that looks like a finished result."""

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from railyard.errors import DataError
from railyard.pipeline.checks import check_split_sizes
from railyard.spec import parse_spec
from railyard.workflow import find_workflow
from tests.conftest import example_spec, read_result, run_trainer, write_spec


def fails_with(tmp_path, spec: dict, message: str) -> dict:
    output = tmp_path / "out"
    run = run_trainer("--spec", write_spec(tmp_path, spec), "--output", output)
    assert run.returncode == 2, run.stderr
    assert message in run.stderr
    result = read_result(output)
    assert result["status"]["transition"]["job_state"] == "failed"
    assert message in result["exception_info"]["message"]
    assert "\n" not in result["exception_info"]["message"]
    assert not (output / "model").exists()
    assert not (output / "scores.tsv").exists()
    assert not (output / "metrics.json").exists()
    return result


@pytest.mark.slow
def test_missing_column(tmp_path, charges_path):
    spec = example_spec("fraud", charges_path)
    spec["data"]["features"][0]["names"].append("chargeback_reason")
    fails_with(tmp_path, spec, "data.features[0].names[5]: column 'chargeback_reason' not found in")


@pytest.mark.slow
def test_feature_not_among_source_names(tmp_path, charges_path):
    spec = example_spec("fraud", charges_path)
    spec["train"]["classifier_features"].append("card_brand")
    fails_with(tmp_path, spec, "train.classifier_features[2]: column 'card_brand' is not in any data.features[].names")


@pytest.mark.slow
def test_label_among_features(tmp_path, charges_path):
    spec = example_spec("fraud", charges_path)
    spec["train"]["classifier_features"].append("has_fraud_dispute")
    fails_with(tmp_path, spec, "train.label: 'has_fraud_dispute' is also in train.classifier_features")


@pytest.mark.slow
def test_filter_value_type(tmp_path, charges_path):
    spec = example_spec("fraud", charges_path)
    spec["filters"][0]["feature_value"] = {"int_vals": [1]}
    fails_with(tmp_path, spec, "filters[0].feature_value: column 'charge_country' is string, but int_vals needs")


@pytest.mark.slow
def test_empty_holdout(tmp_path, charges_path):
    spec = example_spec("fraud", charges_path)
    spec["holdout_sampling"]["date_range_sampling"].update(start_date="2020-01-01", end_date="2020-02-01")
    fails_with(tmp_path, spec, "holdout_sampling: the holdout set is empty (created_at in [2020-01-01, 2020-02-01); "
                               "the data's created_at runs 2018-01-01 .. 2018-12-31)")


@pytest.mark.slow
def test_empty_training_set(tmp_path, charges_path):
    spec = example_spec("fraud", charges_path)
    spec["holdout_sampling"]["date_range_sampling"].update(start_date="2017-01-01", end_date="2020-01-01")
    fails_with(tmp_path, spec, "holdout_sampling: the training set is empty")


@pytest.mark.slow
def test_too_few_training_examples(tmp_path, charges_path):
    spec = example_spec("fraud", charges_path, min_training_examples=500)
    spec["filters"].append({"feature_name": "charge_amount", "predicate": "GreaterThan", "feature_value": {"float_vals": [250.0]}})
    result = fails_with(tmp_path, spec, "min_training_examples: There should be at least 500 examples, got ")
    assert result["exception_info"]["type"] == "DataError"
    assert result["result"]["steps"][-1]["name"] == "split"


def test_the_fewest_training_rows_default_to_the_workflows():
    spec = parse_spec(example_spec("fraud", "charges.parquet"))
    expected = ("min_training_examples: There should be at least 500 examples (StripeFraudModel's default), got 132; "
                'to train on fewer, set "min_training_examples" in the spec')
    with pytest.raises(DataError) as refused:
        check_split_sizes(spec, find_workflow("StripeFraudModel"), training_rows=132, holdout_rows=12)
    assert str(refused.value) == expected
    check_split_sizes(spec, find_workflow("ProphetForecast"), training_rows=132, holdout_rows=12)  # AirPassengers' months
    spec = parse_spec(example_spec("fraud", "charges.parquet", min_training_examples=200))
    with pytest.raises(DataError, match="^min_training_examples: There should be at least 200 examples, got 132;"):
        check_split_sizes(spec, find_workflow("ProphetForecast"), training_rows=132, holdout_rows=12)


@pytest.mark.slow
def test_missing_data_path(tmp_path):
    spec = example_spec("fraud", tmp_path / "nowhere.parquet")
    fails_with(tmp_path, spec, f"data.features[0].path: {tmp_path / 'nowhere.parquet'} does not exist")


@pytest.mark.slow
def test_date_column_must_be_temporal(tmp_path, charges_path):
    spec = example_spec("fraud", charges_path)
    spec["holdout_sampling"]["date_range_sampling"]["date_column"] = "charge_type"
    spec["data"]["date_column"] = "charge_amount"
    fails_with(tmp_path, spec, "data.date_column: column 'charge_amount' must be a date or timestamp, got double")


@pytest.mark.slow
def test_unknown_workflow(tmp_path, charges_path):
    spec = example_spec("fraud", charges_path)
    spec["train"]["workflow_name"] = "StripeFraudModle"
    fails_with(tmp_path, spec, "train.workflow_name: no workflow class named 'StripeFraudModle'")


def test_invalid_spec_exits_2_and_names_the_field(tmp_path, charges_path):
    spec = example_spec("fraud", charges_path, compute_resource="TPU")
    result = fails_with(tmp_path, spec, "compute_resource: expected one of 'CPU', 'GPU', 'HIGH_MEMORY'; got 'TPU'")
    assert result["exception_info"]["type"] == "SpecError"


@pytest.fixture(scope="module")
def yes_no_path(tmp_path_factory, charges_path):
    """The sample charges with the fraud label also as the strings 'yes' and 'no' (column fraud)."""
    table = pq.read_table(charges_path)
    table = table.append_column("fraud", pc.if_else(table.column("has_fraud_dispute"), "yes", "no"))
    path = tmp_path_factory.mktemp("labels") / "charges.parquet"
    pq.write_table(table, path, row_group_size=1_000)
    return path


def string_label_spec(path, **train) -> dict:
    spec = example_spec("fraud", path)
    spec["data"]["features"][0]["names"].append("fraud")
    spec["train"].update(label="fraud", **train)
    return spec


@pytest.mark.slow
def test_two_valued_string_label_needs_positive_label(tmp_path, yes_no_path):
    result = fails_with(tmp_path, string_label_spec(yes_no_path), (
        "train.label: column 'fraud' is a string label with two values ('no', 'yes'); "
        "set train.positive_label to the positive one, e.g. \"positive_label\": \"yes\""
    ))
    assert result["exception_info"]["type"] == "DataError"
    assert [s["name"] for s in result["result"]["steps"]] == ["load", "filter"]  # stopped before the split


@pytest.mark.slow
def test_positive_label_must_be_a_value_of_the_label(tmp_path, yes_no_path):
    fails_with(tmp_path, string_label_spec(yes_no_path, positive_label="Yes"),
               "train.positive_label: 'Yes' is not a value of column 'fraud'; its values are 'no', 'yes'")


@pytest.mark.slow
def test_workflow_that_needs_features_refuses_an_empty_list(tmp_path, charges_path):
    spec = example_spec("fraud", charges_path)
    spec["train"]["classifier_features"] = []
    result = fails_with(tmp_path, spec, "train.classifier_features: workflow StripeFraudModel requires at least one feature;")
    assert result["exception_info"]["type"] == "SpecError"
    assert result["result"]["steps"] == []  # refused before any data was read
