"""Run the whole pipeline for one spec and return what the result file reports.

In a job of several workers every worker loads its share of the input, splits it and trains
inside the workflow's collective; the checks go by summed counts, string columns get the same
categories on every worker, and rank 0 gathers the holdout rows, evaluates and persists.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from railyard.buildinfo import build_info
from railyard.checkpoint import Checkpoints, RunIdentity, Schedule
from railyard.checkpoint.loop import LoopCheckpoints
from railyard.devices import resolve_device
from railyard.distributed import gather, links
from railyard.distributed.env import WorkerEnv
from railyard.errors import TrainingError, WorkerLinkLost
from railyard.model import build_artifact
from railyard.pipeline import evaluate as evaluation
from railyard.pipeline import serialize
from railyard.model.labels import LabelEncoding
from railyard.pipeline.checks import (
    check_features_for_workflow,
    check_label,
    check_spec_against_schema,
    check_split_sizes,
    check_worker_shares,
    check_workers_for_workflow,
    date_columns,
)
from railyard.pipeline.filter import combined_expression, value_type
from railyard.pipeline.labels import encode_label, label_encoding, label_values
from railyard.pipeline.load import fingerprint, join_sources, open_source, read_positioned, read_source
from railyard.pipeline.progress import ProgressReporter
from railyard.pipeline.split import describe, holdout_mask, split_with_positions
from railyard.pipeline.steps import StepRecorder
from railyard.report.chart_data import chart_data, training_history, write_charts
from railyard.spec import TrainingSpec
from railyard.storage import Store
from railyard.workflow import Workflow, class_probabilities, overrides_score


def _source_filters(spec: TrainingSpec, source_names: list[str]):
    return [f for f in spec.filters if f.feature_name in source_names]


def load_and_filter(spec: TrainingSpec, recorder: StepRecorder, env: WorkerEnv | None = None,
                    exchange: gather.Exchange | None = None,
                    fingerprinted: Callable[[list[dict]], None] | None = None) -> tuple[pa.Table, LabelEncoding | None]:
    """Open the sources, check the spec against them, read and filter: one table of the columns training
    needs, and how its label is to be encoded (checked against the label's values).

    Every filter names one column of one source, so all of them are pushed down
    into that source's scan; the filter step then joins the sources, if several.
    With an exchange, this worker reads its share of the first source and the label
    is checked and encoded over every worker's rows. `fingerprinted` is told the data's
    fingerprint (`load.fingerprint`) as soon as the sources are open.
    """
    env = env or WorkerEnv()
    sources = [open_source(i, s) for i, s in enumerate(spec.data.features)]
    if fingerprinted is not None:
        fingerprinted(fingerprint(sources))
    check_spec_against_schema(spec, sources)
    kept = set(spec.train.classifier_features + [spec.train.label] + spec.data.join_keys)
    kept |= {column for _, column in date_columns(spec)}
    tables = []
    with recorder.step("load") as step:
        loads = []
        for source in sources:
            columns = [c for c in source.spec.names if c in kept]
            source_filters = _source_filters(spec, source.spec.names)
            expr = combined_expression(source_filters, source.schema)
            if source.index == 0:
                filter_columns = [f.feature_name for f in source_filters]
                loads.append(read_positioned(source, columns, expr, filter_columns, env.rank, env.world_size))
            else:
                loads.append(read_source(source, columns, expr))
        tables = [loaded.table for loaded in loads]
        step.rows_in = sum(loaded.rows_in_source for loaded in loads)
        step.rows_out = sum(t.num_rows for t in tables)
        step.same_on_every_worker = (sum(x.rows_in_source for x in loads[1:]), sum(x.table.num_rows for x in loads[1:]))
        step.details = {
            "columns": len(kept),
            "row_groups_read": f"{sum(x.row_groups_read for x in loads)}/{sum(x.row_groups_total for x in loads)}",
            "rows_scanned": sum(loaded.rows_scanned for loaded in loads),
        }
        if env.distributed:
            step.details["share"] = f"worker {env.rank} of {env.world_size}"
    with recorder.step("filter") as step:
        step.rows_in = sum(t.num_rows for t in tables)
        step.same_on_every_worker = (sum(t.num_rows for t in tables[1:]), 0)
        table = tables[0] if len(tables) == 1 else join_sources(tables, spec.data.join_keys)
        step.rows_out = table.num_rows
        step.details = {"filters_pushed_into_load": len(spec.filters), "sources_joined": len(tables)}
    if exchange is None:
        check_label(spec, table)
        return table, label_encoding(spec, table.column(spec.train.label))
    label = table.column(spec.train.label)
    check_label(spec, table, null_count=gather.summed(exchange, label.null_count))
    values = gather.united_values(exchange, {"label": label_values(label)})["label"]
    return table, label_encoding(spec, pa.chunked_array([pa.array(values, type=value_type(label.type))]))


def _same_categories(table: pa.Table, exchange: gather.Exchange) -> pa.Table:
    """Every string column with the same categories on every worker: the sorted union of their values."""
    dictionary_columns = [f.name for f in table.schema if pa.types.is_dictionary(f.type)]
    local = {name: label_values(table.column(name)) for name in dictionary_columns}
    for name, values in gather.united_values(exchange, local).items():
        column = table.column(name)
        dictionary = pa.array(values, type=column.type.value_type)
        chunks = [pa.DictionaryArray.from_arrays(pc.index_in(chunk.dictionary, value_set=dictionary).take(chunk.indices),
                                                 dictionary) for chunk in column.chunks]
        table = table.set_column(table.schema.get_field_index(name), name,
                                 pa.chunked_array(chunks, type=pa.dictionary(pa.int32(), column.type.value_type)))
    return table


def plan(spec: TrainingSpec, workflow_cls: type[Workflow] | None = None) -> dict:
    """Every check a run makes before training, and the row counts it would train and evaluate on."""
    if workflow_cls is not None:
        check_features_for_workflow(spec, workflow_cls)
        check_workers_for_workflow(spec, workflow_cls)
    recorder = StepRecorder(progress=lambda line: None)
    table, _ = load_and_filter(spec, recorder)
    holdout_rows = int(pc.sum(holdout_mask(table, spec.holdout_sampling)).as_py() or 0)
    training_rows = table.num_rows - holdout_rows
    check_split_sizes(spec, workflow_cls, training_rows, holdout_rows, table)
    return {"rows_in": recorder.steps[0].rows_in, "rows_after_filters": table.num_rows,
            "training_rows": training_rows, "holdout_rows": holdout_rows}


def _split_and_train(spec: TrainingSpec, workflow_cls: type[Workflow], store: Store, recorder: StepRecorder,
                     table: pa.Table, encoding: LabelEncoding | None, device: str,
                     exchange: gather.Exchange | None, checkpoints: Checkpoints | None) -> tuple["Trained | None", ProgressReporter]:
    """Split, check the split's sizes, train; with an exchange, rank 0 gets every worker's holdout
    rows and the other workers get None."""
    features, label = spec.train.classifier_features, spec.train.label
    columns = list(dict.fromkeys(features + [label] + ([spec.data.date_column] if spec.data.date_column else [])))
    with recorder.step("split") as step:
        step.rows_in = step.rows_out = table.num_rows
        table = table.unify_dictionaries()
        if encoding is not None:
            table = encode_label(table, label, encoding)
        if exchange is not None:
            table = _same_categories(table, exchange)
        training, holdout, holdout_positions = split_with_positions(table, spec.holdout_sampling, columns, spec.data.join_keys)
        training_rows, holdout_rows = len(training), len(holdout)
        shares = exchange.allgather((training_rows, holdout_rows)) if exchange is not None else []
        if shares:
            training_rows, holdout_rows = sum(t for t, _ in shares), sum(h for _, h in shares)
        step.details = {"training_rows": training_rows, "holdout_rows": holdout_rows}
        rows_split = table if exchange is None and 0 in (training_rows, holdout_rows) else None  # for the error's dates
        del table
    check_split_sizes(spec, workflow_cls, training_rows, holdout_rows, rows_split)
    if shares:
        check_worker_shares(shares)

    workflow = workflow_cls(
        custom_params=spec.train.custom_params,
        classifier_features=features,
        classifier_label=label,
        compute_resource=spec.compute_resource.value,
        device=device,
        date_column=spec.data.date_column,
        label_classes=list(encoding.classes) if encoding else None,
    )
    workflow.rank = exchange.rank if exchange is not None else 0
    workflow.world_size = exchange.world_size if exchange is not None else 1
    scored_columns = workflow.feature_columns()
    workflow.progress = progress = ProgressReporter(store, step="train")
    workflow.checkpoints = LoopCheckpoints(checkpoints, progress, device, exchange)
    with recorder.step("train") as step:
        step.rows_in = len(training)
        try:
            with progress.train_step(checkpoints, exact=spec.checkpoints.exact):
                keys_only = [k for k in spec.data.join_keys if k not in columns]  # for scores.tsv, not for training
                model = workflow.train(training, holdout.drop(columns=keys_only) if keys_only else holdout)
        except Exception as exc:
            raise TrainingError(f"{workflow_cls.__name__}.train failed: {type(exc).__name__}: {exc}") from exc
        if checkpoints is not None and checkpoints.loops == 0:
            checkpoints.none_taken(workflow_cls.__name__)
        if model is None:
            raise TrainingError(f"{workflow_cls.__name__}.train returned None; it must return the fitted model")
    feature_sample = training[scored_columns].head(0)
    history = training_history(training[spec.data.date_column], training[label]) if spec.data.date_column else None
    del training
    if exchange is not None:
        holdout = gather.holdout_on_rank_0(exchange, holdout, holdout_positions)
        if holdout is None:
            return None, progress
    return Trained(model, workflow, holdout, feature_sample, training_rows, holdout_rows, history), progress


@dataclass
class Trained:
    """What the train step leaves for evaluation: the model and the whole holdout set, in input order."""

    model: object
    workflow: Workflow
    holdout: pd.DataFrame
    feature_sample: pd.DataFrame
    training_rows: int
    holdout_rows: int
    history: dict | None  # the training series before a forecast's holdout (chart_data.training_history)


def _collective(workflow_cls: type[Workflow], env: WorkerEnv, device: str = "cpu"):
    """The channel the workers of a distributed job train and share over; none for a single worker."""
    if not env.distributed:
        return contextlib.nullcontext(None)
    from railyard.distributed import torch_group, xgboost_collective

    if torch_group.uses_torch_group(workflow_cls, env):
        return torch_group.torch_group(env, device)
    if not xgboost_collective.uses_collective(workflow_cls, env):
        raise TrainingError(f"{workflow_cls.__name__}: no collective for engine {getattr(workflow_cls, 'engine', None)!r} "
                            f"to train on {env.world_size} workers; expected engine 'xgboost' or 'torch'")
    return xgboost_collective.communicator(env)


@contextlib.contextmanager
def _links_told(env: WorkerEnv):
    """A worker's broken exchange with the others, however deep (a workflow's fit wraps it), is WorkerLinkLost.
    Entered once the worker has joined: failing to join or to listen is the worker's own failure."""
    try:
        yield
    except Exception as exc:
        broken = links.link_error(exc) if env.distributed else None
        if broken is None:
            raise
        raise WorkerLinkLost(f"worker {env.rank} of {env.world_size} lost its link to the others (another worker failed "
                             f"or left first; its log says why): {links.reason(broken)}") from exc


def _checkpoints(spec: TrainingSpec, store: Store, env: WorkerEnv, device: str, fingerprint: list, resume: bool,
                 exchange: gather.Exchange | None):
    """The run's checkpoints; None where it writes none (turned off in the spec). In a job of several workers every
    worker resumes from the same ones, worker 0's, and only worker 0 writes them; the data in their identity is
    every worker's, so that all agree on it."""
    if not spec.checkpoints.enabled:
        return None
    data = fingerprint if exchange is None else exchange.allgather(fingerprint)
    identity = RunIdentity.of(build_info(), spec, device, data, env.world_size)
    schedule = Schedule(spec.checkpoints.every_iterations, spec.checkpoints.every_seconds)
    return Checkpoints(store, identity, schedule, resume=resume, writes=env.rank == 0)


def run_pipeline(spec: TrainingSpec, workflow_cls: type[Workflow], store: Store, recorder: StepRecorder,
                 env: WorkerEnv | None = None, fingerprinted: Callable[[list[dict]], None] | None = None,
                 resume: bool = True, checkpointing: Callable[[Checkpoints], None] | None = None,
                 job_store: Store | None = None) -> dict:
    """Train, evaluate and persist; return the `result` block of result.json (rank 0's; other workers
    train their share and return a short summary). `fingerprinted` is told the data's fingerprint once it is open.
    The training loop checkpoints, and resumes from the newest checkpoint of this run unless `resume` is off;
    `checkpointing` is given the run's checkpoints before training starts (a failed run reports them too);
    they are kept in `job_store`, the job's output (default: `store`, which is worker i's own under workers/<i>/)."""
    env = env or WorkerEnv()
    fingerprint: list = []

    def opened(found: list[dict]) -> None:
        fingerprint[:] = found
        if fingerprinted is not None:
            fingerprinted(found)

    check_features_for_workflow(spec, workflow_cls)
    check_workers_for_workflow(spec, workflow_cls, env.world_size)
    device, warning = resolve_device(spec.compute_resource.value, spec.allow_cpu_fallback)
    if warning:
        recorder.progress(f"[railyard] warning: {warning}")
    with _collective(workflow_cls, env, device) as exchange, _links_told(env):
        table, encoding = load_and_filter(spec, recorder, env, exchange, opened)
        checkpoints = _checkpoints(spec, job_store or store, env, device, fingerprint, resume, exchange)
        if checkpoints is not None and checkpointing is not None:
            checkpointing(checkpoints)
        trained, progress = _split_and_train(spec, workflow_cls, store, recorder, table, encoding, device, exchange,
                                             checkpoints)
        del table
        if exchange is not None:
            gather.whole_job_steps(exchange, recorder.steps)
    if trained is None:
        return {"kind": "training", "worker": env.rank, "steps": recorder.as_list()}
    model, workflow, holdout, feature_sample = trained.model, trained.workflow, trained.holdout, trained.feature_sample
    training_rows, holdout_rows = trained.training_rows, trained.holdout_rows
    label = spec.train.label
    scored_columns = workflow.feature_columns()

    labels = holdout[label]
    labels_as_given = pd.Series(encoding.decode(labels), name=label) if encoding else labels
    with recorder.step("evaluate") as step:
        step.rows_in = len(holdout)
        try:
            scored = workflow.score(model, holdout[scored_columns])
            if encoding is not None:
                scored = encoding.decode_predictions(scored)
            scores = scored.iloc[:, 0].to_numpy() if isinstance(scored, pd.DataFrame) else np.asarray(scored).reshape(-1)
            evaluated = labels if encoding is None or encoding.binary else labels_as_given
            metrics = evaluation.evaluate(evaluated, scores)
        except Exception as exc:
            raise TrainingError(f"{workflow_cls.__name__}: scoring the holdout set failed: {type(exc).__name__}: {exc}") from exc
        if encoding is not None and encoding.binary:
            metrics["positive_label"] = encoding.positive_label
        step.rows_out = len(scores)
        step.details = {"headline": evaluation.headline(metrics)}
        charts = chart_data(metrics, evaluated, scores, scored, holdout[spec.data.date_column] if spec.data.date_column else None,
                            trained.history, str(encoding.classes[0]) if encoding is not None and encoding.binary else None)

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
        written = scored
        if metrics.get("kind") == "multiclass_classification" and not overrides_score(workflow_cls):
            each = class_probabilities(model, holdout[scored_columns], encoding.classes if encoding is not None else None)
            if each is not None:  # scores.tsv: the predicted class, then each class's probability
                written = pd.concat([pd.Series(scores, name="score"), each], axis=1)
        scores_path, labels_path = serialize.write_holdout(store, written, labels_as_given, holdout[spec.data.join_keys])
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
        "workers": env.world_size,
        "holdout_sampling": describe(spec.holdout_sampling),
        "training_rows": training_rows,
        "holdout_rows": holdout_rows,
        "steps": recorder.as_list(),
        "learning_curve": progress.learning_curve(),
        "checkpoints": checkpoints.summary() if checkpoints is not None else None,
    }

