"""Run the whole pipeline for one spec and return what the result file reports."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from railyard.devices import resolve_device
from railyard.errors import TrainingError
from railyard.model import build_artifact
from railyard.pipeline import evaluate as evaluation
from railyard.pipeline import serialize
from railyard.model.labels import LabelEncoding
from railyard.pipeline.checks import (
    check_features_for_workflow,
    check_label,
    check_spec_against_schema,
    check_split_sizes,
    date_columns,
)
from railyard.pipeline.filter import combined_expression
from railyard.pipeline.labels import encode_label, label_encoding
from railyard.pipeline.load import join_sources, open_source, read_source
from railyard.pipeline.progress import ProgressReporter
from railyard.pipeline.split import describe, holdout_mask, split
from railyard.pipeline.steps import StepRecorder
from railyard.report.chart_data import chart_data, write_charts
from railyard.spec import TrainingSpec
from railyard.storage import Store
from railyard.workflow import Workflow, overrides_score


def _source_filters(spec: TrainingSpec, source_names: list[str]):
    return [f for f in spec.filters if f.feature_name in source_names]


def load_and_filter(spec: TrainingSpec, recorder: StepRecorder) -> tuple[pa.Table, LabelEncoding | None]:
    """Open the sources, check the spec against them, read and filter: one table of the columns training
    needs, and how its label is to be encoded (checked against the label's values).

    Every filter names one column of one source, so all of them are pushed down
    into that source's scan; the filter step then joins the sources, if several.
    """
    sources = [open_source(i, s) for i, s in enumerate(spec.data.features)]
    check_spec_against_schema(spec, sources)
    kept = set(spec.train.classifier_features + [spec.train.label] + spec.data.join_keys)
    kept |= {column for _, column in date_columns(spec)}
    tables = []
    with recorder.step("load") as step:
        loads = []
        for source in sources:
            columns = [c for c in source.spec.names if c in kept]
            expr = combined_expression(_source_filters(spec, source.spec.names), source.schema)
            loads.append(read_source(source, columns, expr))
        tables = [loaded.table for loaded in loads]
        step.rows_in = sum(loaded.rows_in_source for loaded in loads)
        step.rows_out = sum(t.num_rows for t in tables)
        step.details = {
            "columns": len(kept),
            "row_groups_read": f"{sum(x.row_groups_read for x in loads)}/{sum(x.row_groups_total for x in loads)}",
            "rows_scanned": sum(loaded.rows_scanned for loaded in loads),
        }
    with recorder.step("filter") as step:
        step.rows_in = sum(t.num_rows for t in tables)
        table = tables[0] if len(tables) == 1 else join_sources(tables, spec.data.join_keys)
        step.rows_out = table.num_rows
        step.details = {"filters_pushed_into_load": len(spec.filters), "sources_joined": len(tables)}
    check_label(spec, table)
    return table, label_encoding(spec, table.column(spec.train.label))


def plan(spec: TrainingSpec, workflow_cls: type[Workflow] | None = None) -> dict:
    """Every check a run makes before training, and the row counts it would train and evaluate on."""
    if workflow_cls is not None:
        check_features_for_workflow(spec, workflow_cls)
    recorder = StepRecorder(progress=lambda line: None)
    table, _ = load_and_filter(spec, recorder)
    holdout_rows = int(pc.sum(holdout_mask(table, spec.holdout_sampling)).as_py() or 0)
    training_rows = table.num_rows - holdout_rows
    check_split_sizes(spec, training_rows, holdout_rows)
    return {"rows_in": recorder.steps[0].rows_in, "rows_after_filters": table.num_rows,
            "training_rows": training_rows, "holdout_rows": holdout_rows}


def run_pipeline(spec: TrainingSpec, workflow_cls: type[Workflow], store: Store, recorder: StepRecorder) -> dict:
    """Train, evaluate and persist; return the `result` block of result.json."""
    check_features_for_workflow(spec, workflow_cls)
    device, warning = resolve_device(spec.compute_resource.value, spec.allow_cpu_fallback)
    if warning:
        recorder.progress(f"[railyard] warning: {warning}")
    table, encoding = load_and_filter(spec, recorder)
    features, label = spec.train.classifier_features, spec.train.label
    columns = list(dict.fromkeys(features + [label] + ([spec.data.date_column] if spec.data.date_column else [])))
    with recorder.step("split") as step:
        step.rows_in = table.num_rows
        table = table.unify_dictionaries()
        if encoding is not None:
            table = encode_label(table, label, encoding)
        training, holdout = split(table, spec.holdout_sampling, columns)
        del table
        step.rows_out = len(training) + len(holdout)
        training_rows, holdout_rows = len(training), len(holdout)
        step.details = {"training_rows": training_rows, "holdout_rows": holdout_rows}
    check_split_sizes(spec, training_rows, holdout_rows)

    workflow = workflow_cls(
        custom_params=spec.train.custom_params,
        classifier_features=features,
        classifier_label=label,
        compute_resource=spec.compute_resource.value,
        device=device,
        date_column=spec.data.date_column,
        label_classes=list(encoding.classes) if encoding else None,
    )
    scored_columns = workflow.feature_columns()
    workflow.progress = progress = ProgressReporter(store, step="train")
    with recorder.step("train") as step:
        step.rows_in = len(training)
        try:
            with progress.train_step():
                model = workflow.train(training, holdout)
        except Exception as exc:
            raise TrainingError(f"{workflow_cls.__name__}.train failed: {type(exc).__name__}: {exc}") from exc
        if model is None:
            raise TrainingError(f"{workflow_cls.__name__}.train returned None; it must return the fitted model")
    feature_sample = training[scored_columns].head(0)
    del training

    labels = holdout[label]
    labels_as_given = pd.Series(encoding.decode(labels), name=label) if encoding else labels
    with recorder.step("evaluate") as step:
        step.rows_in = len(holdout)
        try:
            scored = workflow.score(model, holdout[scored_columns])
            if encoding is not None:
                scored = encoding.decode_predictions(scored)
            scores = scored.iloc[:, 0].to_numpy() if isinstance(scored, pd.DataFrame) else np.asarray(scored).reshape(-1)
            metrics = evaluation.evaluate(labels if encoding is None or encoding.binary else labels_as_given, scores)
        except Exception as exc:
            raise TrainingError(f"{workflow_cls.__name__}: scoring the holdout set failed: {type(exc).__name__}: {exc}") from exc
        if encoding is not None and encoding.binary:
            metrics["positive_label"] = encoding.positive_label
        step.rows_out = len(scores)
        step.details = {"headline": evaluation.headline(metrics)}
        charts = chart_data(metrics, labels, scores, scored, holdout[spec.data.date_column] if spec.data.date_column else None)

    with recorder.step("serialize") as step:
        artifact, model_id = build_artifact(
            model,
            workflow_cls=workflow_cls,
            scoring="workflow" if overrides_score(workflow_cls) else "default",
            features=feature_sample,
            label=label,
            metadata=spec.metadata.model_dump(),
            label_encoding=encoding.as_dict() if encoding else None,
        )
        model_path = serialize.write_model(store, artifact, model_id)
        scores_path, labels_path = serialize.write_holdout(store, scored, labels_as_given)
        metrics_path = serialize.write_metrics(store, metrics)
        step.rows_out = len(scores)
        step.details = {"artifact_bytes": len(artifact)}
    charts_path = write_charts(store, charts, recorder.as_list())

    return {
        "kind": "training",
        "evaluation_holdout_data_path": scores_path,
        "evaluation_holdout_label_path": labels_path,
        "model_id": model_id,
        "model_path": model_path,
        "metrics_path": metrics_path,
        "metrics": metrics,
        "charts": charts_path,
        "workflow": workflow_cls.class_path(),
        "label_encoding": encoding.as_dict() if encoding else None,
        "device": device,
        "holdout_sampling": describe(spec.holdout_sampling),
        "training_rows": training_rows,
        "holdout_rows": holdout_rows,
        "steps": recorder.as_list(),
        "learning_curve": progress.learning_curve(),
    }

