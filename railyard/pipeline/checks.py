"""Checks before training: the spec against the workflow and the data's schema, and row counts.

Every failure is one line naming the field and the column or count at fault
(a DataError; a SpecError where the spec does not suit its workflow), raised
before any model is fit or any output is written. The label's values are
checked in `labels.py`.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.compute as pc

from railyard.errors import DataError, SpecError
from railyard.pipeline.filter import check_filter_types, type_name, value_type
from railyard.pipeline.load import Source
from railyard.spec import SamplingFunction, TrainingSpec
from railyard.workflow import Workflow


def date_columns(spec: TrainingSpec) -> list[tuple[str, str]]:
    """(field path, column) for every column the spec uses as a date."""
    found = []
    if spec.data.date_column:
        found.append(("data.date_column", spec.data.date_column))
    if spec.holdout_sampling.sampling_function is SamplingFunction.DATE_RANGE:
        found.append(("holdout_sampling.date_range_sampling.date_column", spec.holdout_sampling.date_range_sampling.date_column))
    return found


def used_columns(spec: TrainingSpec) -> list[tuple[str, str]]:
    """(field path, column) for every column the run reads, in spec order."""
    used = [(f"train.classifier_features[{i}]", c) for i, c in enumerate(spec.train.classifier_features)]
    used.append(("train.label", spec.train.label))
    used += [(f"filters[{i}].feature_name", f.feature_name) for i, f in enumerate(spec.filters)]
    used += date_columns(spec)
    used += [(f"data.join_keys[{i}]", k) for i, k in enumerate(spec.data.join_keys)]
    return used


def check_features_for_workflow(spec: TrainingSpec, workflow_cls: type) -> None:
    """Empty classifier_features only for a workflow that declares `requires_features = False`."""
    if not spec.train.classifier_features and getattr(workflow_cls, "requires_features", True):
        raise SpecError([
            f"train.classifier_features: workflow {workflow_cls.__name__} requires at least one feature; "
            "list them, or use a workflow that needs none (requires_features = False, e.g. ProphetForecast on data.date_column)"
        ])


def check_workers_for_workflow(spec: TrainingSpec, workflow_cls: type, world_size: int = 1) -> None:
    """More than one worker only for a workflow that declares `distributed = True`, and as many as the spec asks for."""
    if spec.workers > 1 and not getattr(workflow_cls, "distributed", False):
        raise SpecError([
            f"workers: workflow {workflow_cls.__name__} trains on one worker only, got workers {spec.workers}; "
            "set workers to 1, or use a distributed workflow (distributed = True, e.g. StripeFraudModel)"
        ])
    if world_size > 1 and world_size != spec.workers:
        raise SpecError([f"workers: the spec asks for {spec.workers} workers, but this job runs {world_size} (RAILYARD_WORKERS)"])


def check_spec_against_schema(spec: TrainingSpec, sources: list[Source]) -> pa.Schema:
    """Raise DataError on the first mismatch; return the combined schema of the named columns."""
    fields: dict[str, pa.Field] = {}
    for source in sources:
        available = source.schema.names
        for j, name in enumerate(source.spec.names):
            if name not in available:
                raise DataError(
                    f"{source.label}.names[{j}]: column {name!r} not found in {source.spec.path}; "
                    f"available: {', '.join(available)}"
                )
            fields.setdefault(name, source.schema.field(name))
    for path, column in used_columns(spec):
        if column not in fields:
            raise DataError(f"{path}: column {column!r} is not in any data.features[].names")
    features = spec.train.classifier_features
    if spec.train.label in features:
        raise DataError(
            f"train.label: {spec.train.label!r} is also in train.classifier_features; "
            "a model must not be trained on its own label"
        )
    duplicates = sorted({c for c in features if features.count(c) > 1})
    if duplicates:
        raise DataError(f"train.classifier_features: {duplicates[0]!r} is listed more than once")
    schema = pa.schema(list(fields.values()))
    for path, column in date_columns(spec):
        column_type = value_type(schema.field(column).type)
        if not (pa.types.is_timestamp(column_type) or pa.types.is_date(column_type)):
            raise DataError(f"{path}: column {column!r} must be a date or timestamp, got {type_name(column_type)}")
    check_filter_types(spec.filters, schema)
    return schema


def check_split_sizes(spec: TrainingSpec, workflow_cls: type[Workflow] | None, training_rows: int, holdout_rows: int,
                      table: pa.Table | None = None) -> None:
    """Both sides of the split hold rows, and enough to train on; `table`, the rows split, says where their dates run."""
    if holdout_rows == 0:
        raise DataError(f"holdout_sampling: the holdout set is empty ({_split_described(spec)}{_dates_of(spec, table)}); "
                        "nothing to evaluate on")
    if training_rows == 0:
        raise DataError(f"holdout_sampling: the training set is empty ({_split_described(spec)}{_dates_of(spec, table)}); "
                        "every row is in the holdout")
    workflow_cls = workflow_cls or Workflow
    minimum = spec.min_training_examples or workflow_cls.min_training_examples
    if training_rows < minimum:
        whose = "" if spec.min_training_examples else f" ({workflow_cls.__name__}'s default)"
        raise DataError(
            f"min_training_examples: There should be at least {minimum} examples{whose}, got {training_rows}; "
            f"to train on fewer, set \"min_training_examples\" in the spec"
        )


def check_worker_shares(counts: list[tuple[int, int]]) -> None:
    """Every worker needs training and holdout rows of its own: (training rows, holdout rows) per worker."""
    for index, (training_rows, holdout_rows) in enumerate(counts):
        if training_rows == 0 or holdout_rows == 0:
            empty = "training" if training_rows == 0 else "holdout"
            raise DataError(
                f"workers: worker {index}'s share of the input has no {empty} rows after the split "
                f"(shares of {len(counts)} workers are whole row groups); use fewer workers"
            )


def check_label(spec: TrainingSpec, table: pa.Table, null_count: int | None = None) -> None:
    """No null labels; `null_count` is the count over every worker's rows in a job of several."""
    nulls = table.column(spec.train.label).null_count if null_count is None else null_count
    if nulls:
        raise DataError(
            f"train.label: column {spec.train.label!r} has {nulls} null values after filtering; "
            f"add a filter {{\"feature_name\": \"{spec.train.label}\", \"predicate\": \"IsNotNull\"}}"
        )


def _dates_of(spec: TrainingSpec, table: pa.Table | None) -> str:
    """Where the split's date column runs in `table`, for a date-range split: "; the data's created_at runs A .. B"."""
    if table is None or spec.holdout_sampling.sampling_function is not SamplingFunction.DATE_RANGE:
        return ""
    column = spec.holdout_sampling.date_range_sampling.date_column
    try:
        span = pc.min_max(table.column(column))
    except (pa.ArrowException, KeyError):  # a dictionary-encoded date column, say: the message goes without its dates
        return ""
    first, last = span["min"].as_py(), span["max"].as_py()
    if first is None:
        return ""
    same_day = str(first)[:10] == str(last)[:10]  # then the times tell them apart
    first, last = (str(m.replace(microsecond=0, tzinfo=None)) if same_day and isinstance(m, dt.datetime) else str(m)[:10]
                   for m in (first, last))
    return f"; the data's {column} runs {first} .. {last}"


def _split_described(spec: TrainingSpec) -> str:
    sampling = spec.holdout_sampling
    if sampling.sampling_function is SamplingFunction.DATE_RANGE:
        r = sampling.date_range_sampling
        return f"{r.date_column} in [{r.start_date}, {r.end_date})"
    return f"RANDOM fraction {sampling.random_sampling.fraction}"
