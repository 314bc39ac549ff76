"""The training spec: the talk's request accepted as written, and one-line errors naming the field."""

import json

import pytest

from railyard.errors import SpecError
from railyard.spec import (
    MAX_CLASSIFIER_FEATURES,
    MAX_CUSTOM_PARAMS_BYTES,
    MAX_FILTER_VALUES,
    MAX_FILTERS,
    ComputeResource,
    Predicate,
    load_spec,
    parse_spec,
)

TALK_REQUEST = {
    "metadata": {
        "model_description": "A model to predict fraud",
        "model_name": "fraud prediction model",
        "owner": "machine-learning-infrastructure",
        "project": "strata-data-talk",
        "trainer": "kelley",
    },
    "data": {
        "features": [
            {
                "names": ["created_at", "charge_type", "charge_amount", "charge_country", "has_fraud_dispute"],
                "path": "s3://path/to/parquet/fraud_data.parq",
            }
        ],
        "date_column": "created_at",
    },
    "filters": [
        {"feature_name": "charge_country", "predicate": "IsIn", "feature_value": {"string_vals": ["US", "CA"]}}
    ],
    "holdout_sampling": {
        "sampling_function": "DATE_RANGE",
        "date_range_sampling": {"date_column": "created_at", "start_date": "2018-10-01", "end_date": "2019-01-01"},
    },
    "train": {
        "workflow_name": "StripeFraudModel",
        "classifier_features": ["charge_type", "charge_amount"],
        "label": "has_fraud_dispute",
        "custom_params": {"objective": "reg:linear", "max_depth": 6, "n_estimators": 500},
    },
}


def errors_of(raw) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_spec(raw)
    return caught.value.problems


def modified(**changes):
    raw = json.loads(json.dumps(TALK_REQUEST))
    for dotted, value in changes.items():
        target = raw
        *parents, last = dotted.split("__")
        for key in parents:
            target = target[int(key)] if key.isdigit() else target[key]
        if value is KeyError:
            del target[last]
        else:
            target[last] = value
    return raw


def test_talk_request_is_accepted_verbatim():
    spec = parse_spec(TALK_REQUEST)
    assert spec.metadata.trainer == "kelley"
    assert spec.data.features[0].path == "s3://path/to/parquet/fraud_data.parq"
    assert spec.filters[0].predicate is Predicate.IsIn
    assert spec.filters[0].feature_value.values == ["US", "CA"]
    assert str(spec.holdout_sampling.date_range_sampling.end_date) == "2019-01-01"
    assert spec.train.custom_params == {"objective": "reg:linear", "max_depth": 6, "n_estimators": 500}
    assert spec.compute_resource is ComputeResource.CPU
    assert spec.min_training_examples is None  # the workflow's default


def test_example_fraud_spec_is_the_talk_request_with_a_local_path():
    from tests.conftest import SPECS

    example = json.loads(SPECS["fraud"].read_text())
    example["data"]["features"][0]["path"] = TALK_REQUEST["data"]["features"][0]["path"]
    example.pop("compute_resource")
    assert example == TALK_REQUEST


def test_custom_params_are_free_form():
    spec = parse_spec(modified(train__custom_params={"anything": {"nested": [1, 2]}, "eta": 0.1}))
    assert spec.train.custom_params["anything"] == {"nested": [1, 2]}


def test_unknown_key_names_its_path_and_suggests_the_field():
    [problem] = errors_of(modified(metadata__model_nmae="x"))
    assert problem.startswith("metadata.model_nmae: unknown field")
    assert "did you mean 'model_name'?" in problem


def test_unknown_key_inside_a_list_names_the_index():
    [problem] = errors_of(modified(filters__0__feature_val={"string_vals": ["US"]}))
    assert problem.startswith("filters[0].feature_val: unknown field")


def test_enum_error_lists_allowed_values():
    [problem] = errors_of(modified(filters__0__predicate="IsOneOf"))
    assert problem.startswith("filters[0].predicate: expected one of")
    for name in ("'IsIn'", "'NotIn'", "'Between'", "'IsNotNull'"):
        assert name in problem
    assert "'IsOneOf'" in problem
    [problem] = errors_of(modified(compute_resource="TPU"))
    assert problem == "compute_resource: expected one of 'CPU', 'GPU', 'HIGH_MEMORY'; got 'TPU'"


def test_required_fields():
    assert errors_of(modified(metadata__owner=KeyError)) == ["metadata.owner: required field is missing"]
    assert errors_of(modified(train__label=KeyError)) == ["train.label: required field is missing"]


@pytest.mark.parametrize("field", ["model_name", "owner", "project", "trainer", "model_description"])
@pytest.mark.parametrize("control", ["\x1b", "\x07", "\x9b", "\u202e", "\r"])
def test_metadata_holding_a_control_character_is_refused(field, control):
    assert errors_of(modified(**{f"metadata__{field}": f"fraud{control}]0;pwned"})) == [
        f"metadata.{field}: holds the control character U+{ord(control):04X}; expected printable text"]


def test_only_the_description_may_hold_lines_and_tabs():
    assert parse_spec(modified(metadata__model_description="line 1\n\tline 2")).metadata.model_description == "line 1\n\tline 2"
    assert errors_of(modified(metadata__model_name="a\nb")) == ["metadata.model_name: holds the control character U+000A; expected printable text"]
    assert parse_spec(modified(metadata__model_name="modèle de fraude — v2")).metadata.model_name == "modèle de fraude — v2"


@pytest.mark.parametrize("field", ["model_name", "owner", "project", "trainer"])
@pytest.mark.parametrize("invisible", ["\u200b", "\ufeff", "\u2028", "\u2060"])
def test_a_name_that_looks_like_another_is_refused(field, invisible):
    # "fraud\u200bmodel" shows as "fraudmodel" and would be a different model with its own ship policy.
    assert errors_of(modified(**{f"metadata__{field}": f"fraud{invisible}model"})) == [
        f"metadata.{field}: holds the invisible character U+{ord(invisible):04X}; expected a name that shows as written"]


def test_names_and_descriptions_have_a_length_limit():
    assert errors_of(modified(metadata__model_name="m" * 257)) == ["metadata.model_name: String should have at most 256 characters"]
    assert errors_of(modified(metadata__model_description="d" * 10_001)) == [
        "metadata.model_description: String should have at most 10000 characters"]
    assert parse_spec(modified(metadata__model_name="m" * 256)).metadata.model_name == "m" * 256


def test_every_problem_is_reported_at_once():
    problems = errors_of(modified(metadata__owner=KeyError, compute_resource="TPU"))
    assert [p.split(":")[0] for p in problems] == ["metadata.owner", "compute_resource"]


@pytest.mark.parametrize(
    "predicate, value, message",
    [
        ("Equal", {"string_vals": ["US", "CA"]}, "Equal takes exactly 1 value, got 2"),
        ("Between", {"int_vals": [1]}, "Between takes exactly 2 values, got 1"),
        ("Between", {"int_vals": [5, 1]}, "Between needs low <= high"),
        ("IsIn", {"string_vals": []}, "IsIn takes at least 1 value, got 0"),
        ("IsNull", {"string_vals": ["US"]}, "IsNull takes no feature_value"),
    ],
)
def test_predicate_arity(predicate, value, message):
    [problem] = errors_of(modified(filters__0__predicate=predicate, filters__0__feature_value=value))
    assert problem.startswith("filters[0]: ")
    assert message in problem


def test_feature_value_needs_exactly_one_kind():
    [problem] = errors_of(modified(filters__0__feature_value={"string_vals": ["US"], "int_vals": [1]}))
    assert problem.startswith("filters[0].feature_value: expected exactly one of")


def test_sampling_function_needs_its_block():
    [problem] = errors_of(modified(holdout_sampling__sampling_function="RANDOM"))
    assert problem == "holdout_sampling: sampling_function RANDOM needs random_sampling"


def test_date_range_must_be_ordered():
    [problem] = errors_of(modified(holdout_sampling__date_range_sampling__end_date="2018-01-01"))
    assert "must be before end_date" in problem


def test_random_fraction_bounds():
    raw = modified(
        holdout_sampling={"sampling_function": "RANDOM", "random_sampling": {"fraction": 1.5, "seed": 1}}
    )
    [problem] = errors_of(raw)
    assert problem.startswith("holdout_sampling.random_sampling.fraction:")


def test_several_sources_need_join_keys():
    second = {"names": ["charge_id", "card_brand"], "path": "other.parquet"}
    raw = modified(data__features=TALK_REQUEST["data"]["features"] + [second])
    [problem] = errors_of(raw)
    assert problem.startswith("data: 2 feature sources need data.join_keys")


def test_unreadable_and_invalid_files(tmp_path):
    with pytest.raises(SpecError, match="cannot read"):
        load_spec(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"metadata": ')
    with pytest.raises(SpecError, match="is not valid JSON"):
        load_spec(bad)


def test_spec_hash_ignores_formatting():
    a = parse_spec(TALK_REQUEST)
    b = parse_spec(json.loads(json.dumps(TALK_REQUEST, indent=4, sort_keys=True)))
    assert a.spec_hash() == b.spec_hash()
    assert parse_spec(modified(train__label="other")).spec_hash() != a.spec_hash()


def test_timestamp_values_are_iso_dates():
    [problem] = errors_of(modified(filters__0__feature_value={"timestamp_vals": ["2018-13-01"]}))
    assert problem == "filters[0].feature_value.timestamp_vals[0]: expected an ISO date or datetime such as 2018-10-01, got '2018-13-01'"


def test_spec_json_round_trips():
    spec = parse_spec(TALK_REQUEST)
    assert parse_spec(json.loads(spec.to_json())) == spec


def test_at_most_256_filters():
    not_null = {"feature_name": "charge_country", "predicate": "IsNotNull"}
    assert len(parse_spec(modified(filters=[not_null] * MAX_FILTERS)).filters) == 256
    assert errors_of(modified(filters=[not_null] * 257)) == ["filters: at most 256 filters, got 257"]


@pytest.mark.parametrize("kind, value", [("string_vals", "US"), ("int_vals", 7), ("float_vals", 0.5), ("timestamp_vals", "2018-10-01")])
def test_at_most_100000_values_per_filter(kind, value):
    parse_spec(modified(filters__0__feature_value={kind: [value] * MAX_FILTER_VALUES}))
    [problem] = errors_of(modified(filters__0__feature_value={kind: [value] * 100_001}))
    assert problem == f"filters[0].feature_value.{kind}: at most 100000 values, got 100001"


def test_at_most_1000_classifier_features():
    features = [f"f{i}" for i in range(MAX_CLASSIFIER_FEATURES + 1)]
    parse_spec(modified(train__classifier_features=features[:-1]))
    [problem] = errors_of(modified(train__classifier_features=features))
    assert problem == "train.classifier_features: at most 1000 features, got 1001"


def test_custom_params_at_most_64_kib_of_json():
    fits = {"blob": "x" * (MAX_CUSTOM_PARAMS_BYTES - len('{"blob":""}'))}
    assert parse_spec(modified(train__custom_params=fits)).train.custom_params == fits
    [problem] = errors_of(modified(train__custom_params={"blob": fits["blob"] + "x"}))
    assert problem == "train.custom_params: at most 64 KiB (65536 bytes) of JSON, got 65537 bytes"


@pytest.mark.parametrize("positive", ["yes", True, False, 1, 2, 0])
def test_positive_label_keeps_its_json_type(positive):
    spec = parse_spec(modified(train__positive_label=positive))
    assert spec.train.positive_label == positive and type(spec.train.positive_label) is type(positive)
    assert parse_spec(json.loads(spec.to_json())) == spec


def test_positive_label_is_optional_and_one_value():
    assert parse_spec(TALK_REQUEST).train.positive_label is None
    [problem] = errors_of(modified(train__positive_label=["yes"]))
    assert problem == "train.positive_label: expected a string, boolean or number: the label's positive value; got list"


def test_classifier_features_may_be_empty():
    # Whether the workflow can train without features is checked against the workflow (tests/pipeline/test_checks.py).
    assert parse_spec(modified(train__classifier_features=[])).train.classifier_features == []
    assert parse_spec(modified(train__classifier_features=KeyError)).train.classifier_features == []


def test_workers_are_bounded_by_the_resource_class():
    assert parse_spec(modified(workers=64)).workers == 64
    [problem] = errors_of(modified(workers=65))
    assert problem == "workers: at most 64 for compute_resource CPU, got 65"
    [problem] = errors_of(modified(workers=0))
    assert problem.startswith("workers: ")


def test_workers_cannot_fall_back_to_the_cpu_one_by_one():
    assert parse_spec(modified(compute_resource="GPU", allow_cpu_fallback=True)).allow_cpu_fallback
    assert parse_spec(modified(workers=2, allow_cpu_fallback=True)).workers == 2  # on the CPU the flag changes nothing
    [problem] = errors_of(modified(compute_resource="GPU", workers=2, allow_cpu_fallback=True))
    assert problem.startswith("allow_cpu_fallback: applies to one worker only; with workers > 1 every worker must train on")
