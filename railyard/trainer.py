"""The trainer command: run one training spec end to end. Entry point of every trainer binary.

    python -m railyard.trainer --spec SPEC [--output DIR_OR_URI] [--job-id ID] [--workflow-module MOD]...
    python -m railyard.trainer --plan --spec SPEC [--workflow-module MOD]...
    python -m railyard.trainer --explain --model MODEL [--model-id ID] --data PARQUET_OR_SPEC [--rows N] [--key COL]...
                               [--batch-rows N] [--output DIR_OR_URI] [--job-id ID]

Exit codes: 0 complete, 2 the spec is invalid or does not fit the data,
1 training failed, 143 stopped by SIGTERM, 75 stopped by SIGTERM after writing a checkpoint
(pre-empted: the same command resumes from it; `--no-resume` starts over). A progress line per step goes to stderr and to the job's
log file (capped, see `railyard.capped_log`); result.json in the output location says `running`, then
`complete` or `failed` with `exception_info`.

A job of several workers (spec `workers`) runs this same command once per worker; the environment
says which worker it is (`railyard.distributed.env`). Worker 0 writes result.json and the outputs,
worker i > 0 its log as `workers/<i>/trainer.log`.

`--plan` makes every check a run makes before training, the workflow's lookup
included; trains and writes nothing, and prints one line of JSON to stdout: the
row counts and compute resource, or `{"error": ..., "type": ...}` (exit 2 for a
bad spec, data or workflow, 1 otherwise).

`--explain` runs an explanation job instead (`railyard.explain`): per-row
feature contributions of a verified model, with the same exit codes, log and
result.json (`result.kind: "explanation"`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import traceback
import uuid

from railyard import artifacts
from railyard.buildinfo import build_info
from railyard.distributed.env import WorkerEnv
from railyard.errors import EXIT_BAD_SPEC, EXIT_OK, EXIT_TRAINING_FAILED, UserError
from railyard.job_run import JobRun, resolve
from railyard.pipeline.evaluate import headline
from railyard.pipeline.run import plan, run_pipeline
from railyard.report.html_report import write_report
from railyard.run_layout import RunLayout
from railyard.spec import TrainingSpec, load_spec
from railyard.workflow import find_workflow, import_workflow_modules

log = logging.getLogger("railyard")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="railyard-train", description="Train one model from a training spec.")
    parser.add_argument("--spec", help="path to the training spec (JSON)")
    parser.add_argument("--output", help="output directory or s3:// prefix (default: spec.output_path, else $RAILYARD_ARTIFACTS/runs/<job-id>, ./railyard-data by default)")
    parser.add_argument("--job-id", default=None, help="job id (default: a new UUID4)")
    parser.add_argument("--workflow-module", action="append", default=[], metavar="MOD",
                        help="import MOD before looking up the workflow (repeatable)")
    parser.add_argument("--no-resume", action="store_true",
                        help="start training over even where the output holds a checkpoint of this run")
    parser.add_argument("--build-info", action="store_true", help="print where this trainer was built from and exit")
    parser.add_argument("--plan", action="store_true",
                        help="check the spec against its data and print the row counts as one line of JSON; train nothing")
    explain = parser.add_argument_group("explanation jobs (--explain)")
    explain.add_argument("--explain", action="store_true", help="explain a trained model's outputs on --data; train nothing")
    explain.add_argument("--model", help="model id, or an artifact path named by its id; any other path needs --model-id")
    explain.add_argument("--model-id", help="the id (sha256.…) the artifact must hash to")
    explain.add_argument("--data", help="parquet file, directory or s3:// URI, or a training spec (.json: its holdout rows)")
    explain.add_argument("--rows", type=int, help="explain the first N rows")
    explain.add_argument("--key", action="append", default=[], metavar="COL", help="input column to copy into the explanations (repeatable)")
    explain.add_argument("--batch-rows", type=int, help="rows explained and written at once (default 10,000)")
    args = parser.parse_args(argv)
    if args.explain and not (args.model and args.data):
        parser.error("--explain needs --model and --data")
    if not args.build_info and not args.spec and not args.explain:
        parser.error("--spec is required")
    return args


def _output_uri(args: argparse.Namespace, spec: TrainingSpec | None, job_id: str) -> str:
    if args.output:
        return resolve(args.output)
    if spec is not None and spec.output_path:
        return resolve(spec.output_path)
    return resolve(RunLayout.under_root(artifacts.root(), job_id).output)


def train(args: argparse.Namespace) -> int:
    job_id = args.job_id or str(uuid.uuid4())
    spec, spec_error = None, None
    try:
        spec = load_spec(resolve(args.spec)).with_paths_relative_to(os.environ.get("BUILD_WORKING_DIRECTORY", "."))
    except UserError as exc:
        spec_error = exc
    try:
        env = WorkerEnv.from_environ()
    except UserError as exc:
        env, spec_error = WorkerEnv(), spec_error or exc
    job = JobRun(job_id, _output_uri(args, spec, job_id), spec.spec_hash() if spec else None, env)
    checkpoints = []

    def work() -> dict:
        log.info(f"[railyard] job {job_id}: output {job.store.uri}")
        if spec_error is not None:
            raise spec_error
        job.running()
        import_workflow_modules(args.workflow_module)
        workflow_cls = find_workflow(spec.train.workflow_name)
        log.info(f"[railyard] workflow {workflow_cls.class_path()}, compute_resource {spec.compute_resource.value}")
        result = run_pipeline(spec, workflow_cls, job.store, job.recorder, env, job.result_file.record_fingerprint,
                              resume=not args.no_resume, checkpointing=checkpoints.append, job_store=job.job_store)
        if env.rank > 0:
            log.info(f"[railyard] worker {env.rank} of {env.world_size}: trained its share; worker 0 writes the result")
            return result
        result["report"] = write_report(job.store, job_id=job_id, spec=spec.model_dump(mode="json"), result=result,
                                        build=job.result_file.status)
        log.info(f"[railyard] complete: model {result['model_id']}; holdout {headline(result['metrics'])}")
        return result

    exit_code = job.run(work, failed=lambda: {"kind": "training", "checkpoints": checkpoints[0].summary() if checkpoints else None})
    if exit_code == EXIT_OK and checkpoints:
        checkpoints[0].clear()
    return exit_code


def plan_only(args: argparse.Namespace) -> int:
    """--plan: one line of JSON on stdout; anything else printed goes to stderr."""
    try:
        with contextlib.redirect_stdout(sys.stderr):
            spec = load_spec(resolve(args.spec)).with_paths_relative_to(os.environ.get("BUILD_WORKING_DIRECTORY", "."))
            import_workflow_modules(args.workflow_module)
            workflow_cls = find_workflow(spec.train.workflow_name)
            report = {**plan(spec, workflow_cls), "compute_resource": spec.compute_resource.value}
        exit_code = EXIT_OK
    except Exception as exc:
        if not isinstance(exc, UserError):
            traceback.print_exception(exc, file=sys.stderr)
        report = {"error": str(exc), "type": type(exc).__name__}
        exit_code = EXIT_BAD_SPEC if isinstance(exc, UserError) else EXIT_TRAINING_FAILED
    print(json.dumps(report), flush=True)
    return exit_code


def main(argv: list[str] | None = None) -> int:
    """The trainer. Called as the command (no `argv`: the binary's entry point, `python -m railyard.trainer`), the
    process ends with the exit code as soon as its output and logs are flushed, without the interpreter's
    teardown: Arrow's reader threads can abort a finished process there (SIGABRT, "terminate called without an
    active exception": apache/arrow#34314, #45017), which made a written plan, or a complete run, look failed."""
    code = _main(argv)
    if argv is None:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def _main(argv: list[str] | None) -> int:
    args = parse_args(argv)
    if args.build_info:
        print(json.dumps(build_info(), indent=2))
        return EXIT_OK
    if args.plan:
        return plan_only(args)
    if args.explain:
        from railyard.explain import ExplainRequest, run_explanation

        return run_explanation(ExplainRequest.from_args(args)).exit_code
    return train(args)


if __name__ == "__main__":
    sys.exit(main())
