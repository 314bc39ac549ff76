"""The `railyard` command.

Without the service:
    railyard render --spec SPEC --binary TARGET_OR_PEX [--job-id ID]
    railyard launch --spec SPEC --binary TARGET_OR_PEX [--backend local|kubernetes] [--wait]
The service and its clients ($RAILYARD_URL, $RAILYARD_TOKEN):
    railyard serve [--host H] [--port P] [--db URL] [--executor local|kubernetes] [--artifacts DIR] [--auth-tokens FILE] [--dev]
    railyard publish TARGET_OR_PEX [--json]
    railyard submit SPEC --binary NAME[@sha256:HEX] [--wait]
    railyard submit-explain --model MODEL_ID_OR_JOB_ID --data PATH_OR_URI [--rows N] [--key COL]... [--wait]
    railyard replay ID [--wait]                                   (the same binary and spec again; reproduced?)
    railyard status|result|cancel|ship|unship ID
    railyard ship-policy MODEL_NAME [--metric M --direction D --min-gain G]
    railyard sweep --spec BASE --space SPACE --binary NAME --metric M --direction D --trials N [--parallel P] [--wait]
    railyard sweeps [SWEEP_ID [--cancel]]
    railyard status|logs|cancel ID --backend local|kubernetes    (a launched job, without the service)
    railyard logs ID [--follow]
    railyard jobs [--owner O] [--state S] ...
Operators:
    railyard token new --owner O [--team T]... [--data-prefix P]... [--publish] [--admin]
Batch scoring:
    railyard predict --model MODEL [--model-id ID] --data PARQUET_OR_DIR_OR_S3 --output PATH [--batch-rows N]
Explanations (per-row feature contributions; railyard.explain):
    railyard explain --model MODEL [--model-id ID] --data PARQUET_OR_DIR_OR_S3_OR_SPEC [--rows N] [--key COL]... [--output DIR]
Tables for people by default; --json for scripts.

TARGET_OR_PEX is a Bazel target (//workflows:fraud_train, built first), a
.pex file, or `dev` for `python -m railyard.trainer` from this checkout.
"""

from __future__ import annotations

import argparse
import codecs
import gc
import json
import os
import signal
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from railyard import artifacts
from railyard.errors import RailyardError, UserError
from railyard.launch import binary as binaries
from railyard.launch.job import Executor, JobRequest
from railyard.run_layout import RunLayout
from railyard.states import JobState
from railyard.launch.render import check_job_id, output_uri, render, to_yaml
from railyard.launch.resources import LaunchConfig, load_config, quantity
from railyard.printable import printable
from railyard.report import run_table
from railyard.progress_bar import follow
from railyard.sweep import commands as sweep_commands
from railyard.pipeline.progress_file import read_progress
from railyard.spec import load_spec

FINISHED = tuple(state.value for state in JobState if state.finished)


def executor_for(backend: str, config: LaunchConfig, args: argparse.Namespace) -> Executor:
    if backend == "kubernetes":
        from railyard.launch.kubernetes import KubernetesExecutor

        return KubernetesExecutor(config)
    from railyard.launch.local import LocalExecutor

    memory = getattr(args, "memory_limit", None)
    return LocalExecutor(config, args.jobs_dir, memory_limit_bytes=int(quantity(memory)) if memory else None,
                         deadline_seconds=getattr(args, "deadline", None))


def launched(args: argparse.Namespace) -> Executor | None:
    """The executor of a job started by `railyard launch`, when --backend names one; None: ask the service."""
    return executor_for(args.backend, load_config(args.config), args) if args.backend else None


def job_request(args: argparse.Namespace, config: LaunchConfig, backend: str) -> JobRequest:
    spec = load_spec(args.spec).with_paths_relative_to(Path.cwd())
    binary = binaries.resolve(args.binary)
    job_id = args.job_id or str(uuid.uuid4())
    if getattr(args, "output", None) or spec.output_path:
        output = args.output or spec.output_path
        output = output if "://" in output else str(Path(output).absolute())
    elif backend == "kubernetes":
        output = output_uri(config, job_id)
    else:
        output = RunLayout.under_root(artifacts.root(), job_id).output
    return JobRequest(job_id, spec, binary, output, git_commit=binaries.stamped_commit(binary))


def cmd_render(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if args.binary == binaries.DEV:
        raise UserError("--binary dev runs only on the local backend; render a .pex or a Bazel target")
    if args.job_id:
        check_job_id(args.job_id)  # before a Bazel build
    print(to_yaml(render(job_request(args, config, "kubernetes"), config)), end="")
    return 0


def cmd_launch(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    job = job_request(args, config, args.backend)
    executor = executor_for(args.backend, config, args)
    executor.submit(job)
    print(job.job_id, flush=True)
    if not args.wait:
        return 0
    last = None

    def poll():
        nonlocal last
        status, changed = executor.status(job.job_id), last
        last = status
        progress = read_progress(job.output) if status.state is JobState.running else None
        return status.state.value, [f"{job.job_id} {status.describe()}"] if status != changed else [], progress

    return 0 if follow(poll, FINISHED) == JobState.complete.value else 1


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from railyard.api.app import create_app
    from railyard.api.settings import Settings

    settings = Settings(host=args.host, port=args.port, executor=args.executor, auth_tokens=args.auth_tokens,
                        launch_config=args.config, dispatch=not args.no_dispatch, dev=args.dev, metrics_open=args.metrics_open)
    settings.concurrency.update(_assignments("--concurrency", args.concurrency, "RESOURCE=N", "CPU=4"))
    settings.max_running_per_owner.update(_assignments("--max-running-per-owner", args.max_running_per_owner, "RESOURCE=N", "CPU=2"))
    settings.owner_weights.update(_assignments("--owner-weight", args.owner_weight, "OWNER=W", "fraud-team=2", float))
    if args.max_queued_per_owner is not None:
        settings.max_queued_per_owner = args.max_queued_per_owner
    if args.max_attempts is not None:
        settings.max_attempts = args.max_attempts
    if args.db:
        settings.db = args.db
    if args.artifacts:
        settings.artifacts = args.artifacts
    if args.jobs_dir:
        settings.jobs_dir = args.jobs_dir
    if args.allowed_host:
        settings.allowed_hosts = [h.strip() for item in args.allowed_host for h in item.split(",") if h.strip()]
    settings.behind_tls = args.behind_tls
    if args.body_seconds is not None:
        settings.body_seconds = args.body_seconds
    settings.trusted_proxies = args.trusted_proxy
    app = create_app(settings)
    gc.collect()
    gc.freeze()  # what the service built to start lives as long as it does: no full collection walks it again
    # asyncio's own loop serves connections in turn; uvloop's, as fast, kept some waiting (docs/performance.md).
    # X-Forwarded-* are believed only from the proxies the operator named, never from anyone who sends them.
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info", access_log=False,
                loop="asyncio", http="httptools",
                proxy_headers=bool(settings.trusted_proxies), forwarded_allow_ips=settings.trusted_proxies or None)
    return 0


def _assignments(flag: str, items: list[str], form: str, example: str, number=int) -> dict:
    """Repeated `NAME=N` flags as {NAME: N}; Settings.check says which numbers are allowed."""
    found = {}
    for item in items:
        name, _, value = item.partition("=")
        try:
            if not name:
                raise ValueError(item)
            found[name] = number(value)
        except ValueError:
            raise UserError(f"{flag} {item}: expected {form}, e.g. {example}") from None
    return found


def _client():
    from railyard.client import Client

    return Client()


def _print(data, as_json: bool, text: str) -> None:
    """Print a command's answer: JSON (which escapes every control character) or text without any."""
    print(json.dumps(data, indent=2) if as_json else printable(text))


def describe_status(status: dict) -> str:
    line = f"{status['job_id']} {status['job_state']}"
    if status.get("reason") and status["job_state"] != "complete":
        line += f": {status['reason']}"
    if status.get("message") and status["job_state"] == "failed":
        line += f": {status['message']}"
    if status.get("activity"):
        line += f" ({status['activity']})"
    return line


def cmd_publish(args: argparse.Namespace) -> int:
    target = args.binary
    path = binaries.build_target(target) if target.startswith("//") else Path(target)
    if not path.is_file():
        raise UserError(f"{target}: no such file; name a trainer .pex or a Bazel target such as //workflows:fraud_train")
    published = _client().publish(path)
    answer = {k: published[k] for k in ("name", "sha256", "ref", "git_commit")}
    _print(answer, args.json, published["ref"])
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from railyard.api.auth import new_token, token_hash
    from railyard.api.data_access import normalize_prefix

    token = new_token()
    entry = {"owner": args.owner, "teams": args.team}
    if args.data_prefix:
        entry["data_prefixes"] = [normalize_prefix(p) for p in args.data_prefix]
    entry.update({flag: True for flag in ("publish", "admin") if getattr(args, flag)})
    line = f"{json.dumps(token_hash(token))}: {json.dumps(entry)}"
    _print({"token": token, "entry": {token_hash(token): entry}}, args.json,
           f"token (give it to {args.owner}; it is shown only now): {token}\n"
           f"entry for the tokens file (YAML; the file keeps only the token's hash):\n{line}")
    return 0


def wait_for(client, job_id: str) -> int:
    """Print each transition of a service job, with a progress bar while it trains, until it ends: 0 if complete."""
    seen, status = 0, {}

    def poll():
        nonlocal seen, status
        status = client.status(job_id)
        lines = [f"{job_id} {t['job_state']}" + (f": {t['reason']}" if t.get("reason") and t["job_state"] != "complete" else "")
                 for t in status["transitions"][seen:]]
        seen = len(status["transitions"])
        return status["job_state"], lines, status.get("progress") or ({"step": status["activity"]} if status.get("activity") else None)

    if follow(poll, FINISHED) == "failed" and status.get("message"):
        print(printable(f"{job_id} {status['message']}"), file=sys.stderr)
    return 0 if status["job_state"] == "complete" else 1


def describe_plan(counts: dict) -> str:
    line = (f"checked against the data: {counts['rows_in']:,} rows, {counts['rows_after_filters']:,} after filters, "
            f"{counts['training_rows']:,} to train on and {counts['holdout_rows']:,} to hold out, on {counts['compute_resource']}")
    return line + (f"; {counts['sizing']['summary']}" if counts.get("sizing") else "")


def service_spec(path: str) -> dict:
    """The spec file as the service takes it: its data paths absolute, from this directory."""
    return json.loads(load_spec(path).with_paths_relative_to(Path.cwd()).to_json())


def cmd_validate(args: argparse.Namespace) -> int:
    """The spec against its data, by the binary that would train it, on the service: row counts; nothing is queued."""
    counts = _client().validate(service_spec(args.spec), args.binary, args.workflow_module)
    _print(counts, args.json, describe_plan(counts))
    return 0


def cmd_submit(args: argparse.Namespace) -> int:
    from railyard.client import ServiceError

    client = _client()
    spec = service_spec(args.spec)
    if not args.no_validate:  # a wrong column or an empty split fails here, before anything is queued
        try:
            print(printable(describe_plan(client.validate(spec, args.binary, args.workflow_module))), file=sys.stderr, flush=True)
        except ServiceError as exc:
            if exc.status not in (429, 503):
                raise
            # Every check slot is busy (a burst of submits): the job's own run checks the same before it trains.
            print(printable(f"not checked against the data now ({exc}); queued, the run checks it first"), file=sys.stderr, flush=True)
    job_id = client.submit(spec, args.binary, args.workflow_module, idempotency_key=args.idempotency_key)
    print(printable(job_id), flush=True)
    return wait_for(client, job_id) if args.wait else 0


def cmd_submit_explain(args: argparse.Namespace) -> int:
    """Queue an explanation of a trained model on the service, run by the binary that trained it."""
    client = _client()
    data = args.data if "://" in args.data else str(Path(args.data).absolute())
    model_id, training_job_id = (args.model, None) if args.model.startswith("sha256.") else (None, args.model)
    answer = client.explain(model_id=model_id, training_job_id=training_job_id, data=data, rows=args.rows, key_columns=args.key,
                            compute_resource=args.compute_resource, idempotency_key=args.idempotency_key)
    job_id = answer["job_id"]
    print(printable(job_id), flush=True)
    return wait_for(client, job_id) if args.wait else 0


def cmd_replay(args: argparse.Namespace) -> int:
    """Run a training job again with its binary and spec; with --wait, say whether it reproduced the model (exit 0 if so)."""
    client = _client()
    job_id = client.replay(args.job_id, idempotency_key=args.idempotency_key)
    print(printable(job_id), flush=True)
    if not args.wait:
        return 0
    wait_for(client, job_id)
    verdict = client.result(job_id).get("replay") or {}
    print(printable(verdict.get("summary") or f"{job_id}: no comparison"))
    return 0 if verdict.get("reproduced") else 1


def cmd_status(args: argparse.Namespace) -> int:
    executor = launched(args)
    if executor is not None:
        status = executor.status(args.job_id)
        _print({"job_id": args.job_id, "job_state": status.state.value, "reason": status.reason, "message": status.message},
               args.json, f"{args.job_id} {status.describe()}")
        return 0
    status = _client().status(args.job_id)
    lines = [describe_status(status), f"  owner {status['owner']}, model {status['model_name']}, workflow {status['workflow']} on {status['compute_resource']}",
             f"  git commit {status['git_commit'] or '-'}, log {status['log_file']}"]
    if status.get("shipped"):
        lines.append(f"  shipped by {status['shipped_by']} at {status['shipped_at']}")
    elif status["job_state"] == "complete" and status.get("kind", "training") == "training":
        lines.append("  not shipped")
    lines += [f"  {t['created_at']}  {t['job_state']}" + (f" ({t['reason']})" if t.get("reason") else "") for t in status["transitions"]]
    _print(status, args.json, "\n".join(lines))
    return 0


def cmd_result(args: argparse.Namespace) -> int:
    body = _client().result(args.job_id)
    lines = [describe_status(body["status"])]
    result = body.get("result")
    if result and result.get("kind") == "explanation":
        lines.append(f"  explains model {result['model_id']}: {result.get('rows', 0):,} rows")
        lines += [f"  {name.removesuffix('_path')} {result[name]}" for name in ("explanations_path", "importance_path") if result.get(name)]
    elif result:
        lines.append(f"  model {result['model_id']}")
        lines += [f"  {k:<14} {v:.4f}" for k, v in result["metrics"].items() if isinstance(v, float)]
        lines.append(f"  scores {result['evaluation_holdout_data_path']}")
        lines.append(f"  labels {result['evaluation_holdout_label_path']}")
        lines += [f"  step {s['name']:<10} {s['wall_seconds']:8.2f} s  peak {s['peak_memory_bytes'] / 2**20:6.0f} MiB" for s in result["steps"]]
    if body.get("exception_info"):
        lines.append(f"  {body['exception_info']['type']}: {body['exception_info']['message']}")
    _print(body, args.json, "\n".join(lines))
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    executor = launched(args)
    if executor is not None:
        return follow_launched_log(executor, args.job_id, args.follow)
    client, offset = _client(), 0
    while True:
        text, offset = client.logs(args.job_id, offset)
        sys.stdout.write(printable(text))
        sys.stdout.flush()
        if not args.follow or client.status(args.job_id)["job_state"] in FINISHED:
            if args.follow:
                sys.stdout.write(printable(client.logs(args.job_id, offset)[0]))
            return 0
        time.sleep(1)


def print_jobs(page: dict, as_json: bool, columns: list[tuple[str, int, Callable[[dict], str]]]) -> None:
    """A page of /jobs as a table: each column's heading, width and value of a job (cut to the width), then the job
    id, and the cursor of the next page; every string from the service without control characters."""
    shown = [{k: printable(v, multiline=False) if isinstance(v, str) else v for k, v in j.items()} for j in page["jobs"]]
    rows = [" ".join(f"{heading:<{width}}" for heading, width, _ in columns) + " JOB"]
    rows += [" ".join(f"{(value(j) or '')[:width]:<{width}}" for _, width, value in columns) + f" {j['job_id']}" for j in shown]
    if page["next_cursor"]:
        rows.append(f"(more: --cursor {page['next_cursor']})")
    _print(page, as_json, "\n".join(rows))


def moment(text: str | None) -> str:
    return (text or "")[:19].replace("T", " ")


def cmd_jobs(args: argparse.Namespace) -> int:
    """The jobs, newest first, with what tells runs apart: the headline holdout metric and the custom_params
    that the listed runs set to different values (railyard.report.run_table), as the dashboard shows them."""
    page = _client().jobs(owner=args.owner, project=args.project, model_name=args.model_name, workflow=args.workflow,
                          state=args.state, limit=args.limit, cursor=args.cursor)
    listed = [j.get("custom_params") if isinstance(j.get("custom_params"), dict) else {} for j in page["jobs"]]
    columns = []
    for name in run_table.differing_params(listed):
        values = {j["job_id"]: printable(value, multiline=False) for j, params in zip(page["jobs"], listed)
                  for value in run_table.param_values(params, [name])}
        heading = run_table.cut(printable(name, multiline=False))
        columns.append((heading, max(len(heading), *map(len, values.values())), lambda j, values=values: values[j["job_id"]]))
    print_jobs(page, args.json, [("CREATED", 20, lambda j: moment(j["created_at"])), ("STATE", 10, lambda j: j["job_state"]),
                                 ("KIND", 12, lambda j: j.get("kind", "training")), ("OWNER", 24, lambda j: j["owner"]),
                                 ("MODEL", 28, lambda j: j["model_name"]), ("METRIC", 20, lambda j: run_table.metric_text(j.get("metrics"))),
                                 *columns, ("REASON", 20, lambda j: j["reason"])])
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    """The shipped models, newest job first: what a team serves today."""
    page = _client().jobs(shipped=True, owner=args.owner, model_name=args.model_name, limit=args.limit, cursor=args.cursor)
    print_jobs(page, args.json, [("SHIPPED", 20, lambda j: moment(j["shipped_at"])), ("BY", 16, lambda j: j["shipped_by"]),
                                 ("OWNER", 24, lambda j: j["owner"]), ("MODEL", 28, lambda j: j["model_name"]),
                                 ("MODEL ID", 24, lambda j: j["model_id"])])
    return 0


def follow_launched_log(executor: Executor, job_id: str, follow: bool) -> int:
    offset, decoder = 0, codecs.getincrementaldecoder("utf-8")(errors="replace")
    while True:
        finished = executor.status(job_id).state.finished
        while True:
            page, offset = executor.read_log(job_id, offset)
            sys.stdout.write(printable(decoder.decode(page)))
            if not page:
                break
        sys.stdout.flush()
        if not follow or finished:
            return 0
        time.sleep(1)


def cmd_action(args: argparse.Namespace) -> int:
    executor = launched(args) if args.command == "cancel" else None
    if executor is not None:
        executor.cancel(args.job_id)
        status = executor.status(args.job_id)
        _print({"job_id": args.job_id, "job_state": status.state.value}, args.json, f"{args.job_id} {status.describe()}")
        return 0
    status = _client().action(args.job_id, args.command, getattr(args, "override_reason", None))
    _print(status, args.json, describe_status(status) + (" (shipped)" if status.get("shipped") else ""))
    return 0


def cmd_ship_policy(args: argparse.Namespace) -> int:
    """Show the model's ship policy, or set it when --metric is given."""
    policy = None
    if args.metric:
        policy = {"metric": args.metric, "direction": args.direction, "min_gain": args.min_gain,
                  "same_holdout": not args.any_holdout, "owner_may_override": args.owner_may_override}
    answer = _client().ship_policy(args.model_name, policy, args.owner)
    better = "higher" if answer["direction"] == "maximize" else "lower"
    _print(answer, args.json, f"{answer['owner']}'s {answer['model_name']}: a challenger ships when its {answer['metric']} is "
                              f"{better} than the champion's by at least {answer['min_gain']:g}"
                              + (", judged on the champion's holdout" if answer["same_holdout"] else "")
                              + ("; its owners may override" if answer["owner_may_override"] else "; only an admin may override"))
    return 0


def trained_model(ref: str, expected_id: str | None) -> tuple[str, str | None]:
    """--model as given when it is a model id or a path; else a job id: the service's record of the job names the
    model id the artifact must hash to (and --model-id, when given, must be that id)."""
    if ref.startswith("sha256.") or "/" in ref or Path(ref).exists():
        return ref, expected_id
    try:
        body = _client().result(ref)
    except RailyardError as exc:
        raise UserError(f"--model {ref}: not a model id (sha256.…), an artifact path or a job the service knows: {exc}") from None
    result, status = body.get("result") or {}, body.get("status") or {}
    model_id, path = status.get("model_id"), result.get("model_path")
    if not (isinstance(model_id, str) and isinstance(path, str)) or result.get("kind") != "training":
        raise UserError(f"--model {ref}: job {ref} is {status.get('job_state')} and has no trained model")
    if expected_id is not None and expected_id != model_id:
        raise UserError(f"--model-id {expected_id}: job {ref} trained model {model_id}")
    return path, model_id


def cmd_predict(args: argparse.Namespace) -> int:
    from railyard.pipeline.steps import peak_rss_bytes
    from railyard.scoring import score_dataset

    model, expected_id = trained_model(args.model, args.model_id)
    report = score_dataset(model, args.data, args.output, batch_rows=args.batch_rows, keep=tuple(args.keep),
                           expected_id=expected_id)
    print(f"scored {report.rows:,} rows in {report.batches} batches with {report.model_id} -> {report.output}; "
          f"peak memory {peak_rss_bytes() / 2**20:.0f} MiB; score = {report.score}")
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    """An explanation job in this process: progress on stderr, a summary on stdout, the outputs and result.json in --output."""
    from railyard.explain import ExplainRequest, run_explanation

    outcome = run_explanation(ExplainRequest.from_args(args))
    if outcome.exit_code == 0:
        result = outcome.result
        print(f"explained {result['rows']:,} rows in {result['batches']} batches of {result['model_id']} ({result['method']}) "
              f"-> {result['explanations_path']}; peak memory {result['peak_memory_bytes'] / 2**20:.0f} MiB")
    return outcome.exit_code


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="railyard", description="Train models from training specs.")
    commands = root.add_subparsers(dest="command", required=True)

    for name, help_text in (("render", "print the Kubernetes manifests of a job"), ("launch", "run a job without the service")):
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--spec", required=True)
        sub.add_argument("--binary", required=True, help="Bazel target, .pex file, or 'dev'")
        sub.add_argument("--job-id")
        sub.add_argument("--config", help="resource classes file (default: railyard/launch/templates/resource_classes.yaml)")
        if name == "launch":
            sub.add_argument("--backend", choices=["local", "kubernetes"], default="local")
            sub.add_argument("--wait", action="store_true", help="follow the job to its end; exit non-zero unless it completes")
            sub.add_argument("--output", help="output directory or s3:// prefix")
            sub.add_argument("--jobs-dir", default=None, help="where the local backend keeps its jobs (default: <artifact root>/local-jobs)")
            sub.add_argument("--memory-limit", help="local backend: memory limit such as 2Gi (default: the resource class's)")
            sub.add_argument("--deadline", type=float, help="local backend: deadline in seconds (default: the resource class's)")

    serve = commands.add_parser("serve", help="run the API service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--db", help="database URL or SQLite file (default: <artifact root>/railyard.db; the root is $RAILYARD_ARTIFACTS, else ./railyard-data)")
    serve.add_argument("--executor", choices=["local", "kubernetes"], default="local")
    serve.add_argument("--artifacts", help="where local jobs write their outputs (default: <artifact root>/runs)")
    serve.add_argument("--auth-tokens", help="JSON or YAML file mapping bearer tokens to {owner, teams}")
    serve.add_argument("--config", help="resource classes file")
    serve.add_argument("--jobs-dir", help="where the local executor keeps its jobs (default: <artifact root>/local-jobs)")
    serve.add_argument("--no-dispatch", action="store_true", help="accept and track jobs without running them")
    serve.add_argument("--dev", action="store_true",
                       help="one person on a laptop: also run Bazel targets, .pex paths and 'dev' (loopback only, no tokens)")
    serve.add_argument("--metrics-open", action="store_true", help="serve /metrics without a token")
    serve.add_argument("--allowed-hosts", dest="allowed_host", action="append", default=[], metavar="NAMES",
                       help="host names requests may be addressed to, comma-separated (default: the loopback names on "
                            "loopback, else --host); '*.example.com' matches subdomains")
    serve.add_argument("--behind-tls", action="store_true",
                       help="a TLS proxy serves this service: the session cookie is Secure and __Host- prefixed")
    serve.add_argument("--body-seconds", type=float, metavar="S",
                       help="the longest a client may take to send a request body (default 30)")
    serve.add_argument("--trusted-proxy", action="append", default=[], metavar="ADDRESS",
                       help="a proxy whose X-Forwarded-For and X-Forwarded-Proto are believed (repeatable; default: none)")
    serve.add_argument("--concurrency", action="append", default=[], metavar="RESOURCE=N",
                       help="how many jobs of a compute resource run at once, across replicas (default CPU=2, GPU=1, HIGH_MEMORY=1)")
    serve.add_argument("--max-queued-per-owner", type=int, metavar="N",
                       help="queued jobs one owner (a person or a team) may have; POST /train and /explain answer 429 beyond "
                            "(default 500)")
    serve.add_argument("--max-attempts", type=int, metavar="N",
                       help="runs of one job's trainer, the first included, when the infrastructure ends them (pre-empted, "
                            "killed, lost); each resumes from the job's checkpoints (default 3)")
    serve.add_argument("--max-running-per-owner", action="append", default=[], metavar="RESOURCE=N",
                       help="jobs of a compute resource one owner runs at once (repeatable; default: the resource's concurrency)")
    serve.add_argument("--owner-weight", action="append", default=[], metavar="OWNER=W",
                       help="an owner's share of each compute resource's slots against owners of weight 1 (repeatable; default 1)")

    publish = commands.add_parser("publish", help="publish a trainer binary to the service (builds a Bazel target first)")
    publish.add_argument("binary", metavar="TARGET_OR_PEX")
    publish.add_argument("--json", action="store_true")

    token = commands.add_parser("token", help="make a token for the tokens file")
    token_commands = token.add_subparsers(dest="token_command", required=True)
    new = token_commands.add_parser("new", help="print a fresh token and its tokens-file entry")
    new.add_argument("--owner", required=True)
    new.add_argument("--team", action="append", default=[])
    new.add_argument("--data-prefix", action="append", default=[], help="a path or URI prefix its jobs may read (repeatable)")
    new.add_argument("--publish", action="store_true", help="may publish trainer binaries (CI)")
    new.add_argument("--admin", action="store_true", help="sees and acts on every job")
    new.add_argument("--json", action="store_true")

    submit = commands.add_parser("submit", help="submit a spec to the service")
    submit.add_argument("spec")
    submit.add_argument("--binary", required=True, help="a published binary: NAME, NAME@sha256:HEX or sha256:HEX")
    submit.add_argument("--wait", action="store_true")
    submit.add_argument("--workflow-module", action="append", default=[])
    submit.add_argument("--idempotency-key")
    submit.add_argument("--no-validate", action="store_true",
                        help="queue without checking the spec against its data first (the check reads the data's schema and counts rows)")
    validate = commands.add_parser("validate", help="check a spec against its data on the service; queue nothing")
    validate.add_argument("spec")
    validate.add_argument("--binary", required=True, help="a published binary: NAME, NAME@sha256:HEX or sha256:HEX")
    validate.add_argument("--workflow-module", action="append", default=[])
    validate.add_argument("--json", action="store_true")
    submit_explain = commands.add_parser("submit-explain", help="explain a trained model's scores on the service")
    submit_explain.add_argument("--model", required=True, metavar="MODEL_ID_OR_JOB_ID",
                                help="the model id (sha256.…) or the id of the complete training job that made it")
    submit_explain.add_argument("--data", required=True, help="parquet file, directory, or s3:// URI of the rows to explain")
    submit_explain.add_argument("--rows", type=int, help="explain at most N rows")
    submit_explain.add_argument("--key", action="append", default=[], help="input column copied beside each explanation (repeatable)")
    submit_explain.add_argument("--compute-resource", help="default: the training job's")
    submit_explain.add_argument("--idempotency-key")
    submit_explain.add_argument("--wait", action="store_true", help="follow the job to its end; exit non-zero unless it completes")
    replay = commands.add_parser("replay", help="run a training job again with its binary and spec; compare the models")
    replay.add_argument("job_id")
    replay.add_argument("--idempotency-key")
    replay.add_argument("--wait", action="store_true", help="follow the replay to its end; exit 0 only if it reproduced the model")
    for name in ("status", "result", "cancel", "ship", "unship", "logs"):
        sub = commands.add_parser(name, help=f"{name} of a job")
        sub.add_argument("job_id")
        if name == "logs":
            sub.add_argument("--follow", action="store_true")
        else:
            sub.add_argument("--json", action="store_true")
        if name == "ship":
            sub.add_argument("--override-reason", help="ship even where the model's ship policy refuses, for this reason")
        if name in ("status", "cancel", "logs"):
            sub.add_argument("--backend", choices=["local", "kubernetes"],
                             help="a job started by `railyard launch`: ask its executor, not the service")
            sub.add_argument("--jobs-dir", default=None, help="local backend: where its jobs are (default: <artifact root>/local-jobs)")
            sub.add_argument("--config", help="resource classes file")
    predict = commands.add_parser("predict", help="score a parquet dataset with a trained model")
    predict.add_argument("--model", required=True, help="model id, an artifact path named by its id (any other path needs --model-id), "
                         "or the id of the training job that made it (asked of the service)")
    predict.add_argument("--model-id", help="the id (sha256.…) the artifact must hash to, e.g. to score from a run's output directory")
    predict.add_argument("--data", required=True, help="parquet file, directory, or s3:// URI")
    predict.add_argument("--output", required=True, help="parquet file to write (local path or s3:// URI)")
    predict.add_argument("--batch-rows", type=int, default=100_000)
    predict.add_argument("--keep", action="append", default=[], help="input column to copy into the output (repeatable)")
    explain = commands.add_parser("explain", help="per-row feature contributions of a trained model on a dataset")
    explain.add_argument("--model", required=True, help="model id, or an artifact path named by its id; any other path needs --model-id")
    explain.add_argument("--model-id", help="the id (sha256.…) the artifact must hash to, e.g. to explain from a run's output directory")
    explain.add_argument("--data", required=True, help="parquet file, directory or s3:// URI, or a training spec (.json: its holdout rows)")
    explain.add_argument("--rows", type=int, help="explain the first N rows (default: all; 1,000 for the model-agnostic method)")
    explain.add_argument("--key", action="append", default=[], metavar="COL", help="input column to copy into the explanations (repeatable)")
    explain.add_argument("--batch-rows", type=int, help="rows explained and written at once (default 10,000)")
    explain.add_argument("--output", help="output directory or s3:// prefix (default: <artifact root>/runs/<job-id>)")
    explain.add_argument("--job-id", help="job id (default: a new UUID4)")
    sweep_commands.add_parsers(commands)
    policy = commands.add_parser("ship-policy", help="show or set (with --metric) how a model's challengers are judged before they ship")
    policy.add_argument("model_name")
    policy.add_argument("--metric", help="the holdout metric to compare, e.g. roc_auc")
    policy.add_argument("--direction", choices=["maximize", "minimize"], default="maximize")
    policy.add_argument("--min-gain", type=float, default=0.0, help="how much better the challenger must be")
    policy.add_argument("--any-holdout", action="store_true", help="judge a challenger even on another holdout than the champion's")
    policy.add_argument("--owner-may-override", action="store_true", help="the model's owners, not only admins, may ship past it")
    policy.add_argument("--owner", help="the model's owner (default: you)")
    policy.add_argument("--json", action="store_true")
    models = commands.add_parser("models", help="list the shipped models, newest first")
    for flag in ("owner", "model-name", "cursor"):
        models.add_argument(f"--{flag}")
    models.add_argument("--limit", type=int, default=50)
    models.add_argument("--json", action="store_true")
    jobs = commands.add_parser("jobs", help="list jobs, newest first")
    for flag in ("owner", "project", "model-name", "workflow", "state", "cursor"):
        jobs.add_argument(f"--{flag}")
    jobs.add_argument("--limit", type=int, default=50)
    jobs.add_argument("--json", action="store_true")
    return root


HANDLERS = {"render": cmd_render, "launch": cmd_launch, "serve": cmd_serve, "publish": cmd_publish, "token": cmd_token, "submit": cmd_submit, "validate": cmd_validate, "submit-explain": cmd_submit_explain, "replay": cmd_replay, "status": cmd_status,
            "result": cmd_result, "logs": cmd_logs, "predict": cmd_predict, "explain": cmd_explain, "jobs": cmd_jobs, "models": cmd_models, "cancel": cmd_action, "ship": cmd_action, "unship": cmd_action,
            "ship-policy": cmd_ship_policy, "sweep": lambda args: sweep_commands.cmd_sweep(args, _client(), service_spec(args.spec)),
            "sweeps": lambda args: sweep_commands.cmd_sweeps(args, _client())}


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code = HANDLERS[args.command](args)
        sys.stdout.flush()  # here, where a reader gone away can be told apart
        return code
    except RailyardError as exc:
        print(printable(f"railyard {args.command}: {exc}"), file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:  # the reader went away (`railyard jobs | head -1`): stop quietly, as a shell tool does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so that the exit's flush finds no pipe
        return 128 + signal.SIGPIPE


if __name__ == "__main__":
    sys.exit(main())
