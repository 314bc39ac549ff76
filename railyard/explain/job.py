"""An explanation job: a verified model's per-row feature contributions over a dataset, in bounded memory.

    <trainer> --explain --model MODEL [--model-id ID] --data PARQUET_OR_SPEC [--rows N] [--key COL]...
              [--batch-rows N] [--output DIR_OR_URI] [--job-id ID]
    railyard explain (the same arguments)

MODEL is what `railyard predict --model` takes, and is verified the same way
before anything is loaded. The job runs like a training run: a progress line
per batch on stderr and in `trainer.log`, and `result.json` in the output
location (by default `$RAILYARD_ARTIFACTS/runs/<job-id>`) says `running`,
then `complete` (with `result.kind: "explanation"`) once explanations.parquet
and importance.json are written, or `failed` with `exception_info`. Exit
codes are training's: 0 complete, 2 bad input (model, data, arguments),
1 failed, 143 stopped by SIGTERM.
"""

from __future__ import annotations

import logging
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from railyard import artifacts
from railyard.errors import ModelFormatError, UserError
from railyard.explain.contributions import BACKGROUND_ROWS, SEED, explainer_for
from railyard.explain.outputs import ExplanationWriter, publish
from railyard.explain.source import open_rows
from railyard.job_run import JobRun, resolve
from railyard.model import Model, is_model_id, load_model
from railyard.pipeline.steps import StepRecorder, peak_rss_bytes
from railyard.run_layout import RunLayout

KIND = "explanation"
DEFAULT_BATCH_ROWS = 10_000
log = logging.getLogger("railyard")


class ModelRefused(UserError):
    """The model named cannot be found, verified or loaded."""


@dataclass(frozen=True)
class ExplainRequest:
    model: str
    data: str
    model_id: str | None = None
    rows: int | None = None
    keys: tuple[str, ...] = ()
    batch_rows: int = DEFAULT_BATCH_ROWS
    output: str | None = None
    job_id: str | None = None

    @classmethod
    def from_args(cls, args) -> "ExplainRequest":
        """From the trainer's or the CLI's parsed arguments (the same names in both)."""
        batch_rows = DEFAULT_BATCH_ROWS if args.batch_rows is None else args.batch_rows
        return cls(model=args.model, data=args.data, model_id=args.model_id, rows=args.rows, keys=tuple(args.key),
                   batch_rows=batch_rows, output=args.output, job_id=args.job_id)

    def check(self) -> None:
        if self.rows is not None and self.rows < 1:
            raise UserError(f"--rows: expected a whole number of at least 1, got {self.rows}")
        if self.batch_rows < 1:
            raise UserError(f"--batch-rows: expected a whole number of at least 1, got {self.batch_rows}")
        for key in self.keys:
            if self.keys.count(key) > 1:
                raise UserError(f"--key {key}: named more than once")


@dataclass
class Outcome:
    exit_code: int
    output: str  # the output location
    result: dict  # result.json's `result` block


def _load(request: ExplainRequest) -> Model:
    ref = request.model if is_model_id(request.model) else resolve(request.model)
    try:
        return load_model(ref, expected_id=request.model_id)
    except ModelFormatError as exc:
        raise ModelRefused(f"--model: {exc}") from exc


def explain(request: ExplainRequest, store, recorder: StepRecorder, result: dict) -> dict:
    """Explain and write the outputs; return the `result` block of result.json (filled in as it goes)."""
    request.check()
    with recorder.step("model") as step:
        model = _load(request)
        result["model_id"] = model.model_id
        step.details = {"model_id": model.model_id, "features": len(model.features)}
    rows = open_rows(resolve(request.data), model.features, list(request.keys), recorder)
    explainer = explainer_for(model, rows.background(BACKGROUND_ROWS, SEED))
    limit = request.rows or explainer.default_rows
    total = min(rows.total_rows, limit) if limit else rows.total_rows
    log.info(f"[railyard] model {model.model_id}: {explainer.method}, explaining {explainer.explains}")
    if not request.rows and limit and rows.total_rows > limit:
        log.info(f"[railyard] explaining the first {limit:,} of {rows.total_rows:,} rows: each row costs "
                 f"{explainer.parameters.get('max_evals', 1):,} model calls with this method; --rows N explains more")
    batch_rows = min(request.batch_rows, explainer.batch_rows or request.batch_rows)
    result.update(method=explainer.method, explains=explainer.explains, parameters=explainer.parameters,
                  features=explainer.features, keys=rows.keys, data=request.data, input=rows.description)

    with tempfile.TemporaryDirectory(prefix="railyard-explain-") as tmp:
        with recorder.step("explain") as step:
            writer = ExplanationWriter(Path(tmp) / "explanations.parquet", explainer.features, rows.key_fields,
                                       model.model_id, explainer.method)
            start = time.perf_counter()
            try:
                for batch in rows.batches(batch_rows, limit):
                    contributions = explainer.explain(batch.select(model.features).to_pandas())
                    writer.write(contributions, [batch.column(k) for k in rows.keys])
                    log.info(f"[railyard] explain: batch {writer.batches}: {writer.rows:,} of {total:,} rows, "
                             f"{time.perf_counter() - start:.1f}s, peak {peak_rss_bytes() / 2**20:.0f} MiB")
            finally:
                writer.close()
            step.rows_in = step.rows_out = writer.rows
            step.details = {"batches": writer.batches, "method": explainer.method}
        with recorder.step("publish"):
            explanations_path, importance_path = publish(store, writer, model.model_id, explainer.method)
    result.update(explanations_path=explanations_path, importance_path=importance_path, rows=writer.rows,
                  batches=writer.batches, max_additivity_error=writer.max_additivity_error,
                  importance=writer.importance()[:10])
    return result


def run_explanation(request: ExplainRequest) -> Outcome:
    """Run one explanation job end to end, as the trainer runs a training spec; never raises for a failed job."""
    job_id = request.job_id or str(uuid.uuid4())
    job = JobRun(job_id, resolve(request.output or RunLayout.under_root(artifacts.root(), job_id).output))
    result: dict = {"kind": KIND, "model_id": None}

    def work() -> dict:
        log.info(f"[railyard] job {job_id}: explain {request.model} on {request.data}; output {job.store.uri}")
        job.running(dict(result))
        explain(request, job.store, job.recorder, result)
        result["steps"] = job.recorder.as_list()
        result["peak_memory_bytes"] = max([peak_rss_bytes(), *(s.peak_memory_bytes for s in job.recorder.steps)])
        top = ", ".join(f"{i['feature']} {i['mean_abs_contribution']:.4g}" for i in result["importance"][:3])
        log.info(f"[railyard] complete: explained {result['rows']:,} rows of {result['model_id']}; mean |contribution|: {top}")
        return result

    def failed() -> dict:
        return {k: result[k] for k in ("kind", "model_id")}

    exit_code = job.run(work, failed)
    return Outcome(exit_code, job.store.uri, result if exit_code == 0 else failed())
