"""The `railyard` command: render, launch and follow training jobs.

    railyard render --spec SPEC --binary TARGET_OR_PEX [--job-id ID]
    railyard launch --spec SPEC --binary TARGET_OR_PEX [--backend local|kubernetes] [--wait]
    railyard status|logs|cancel JOB_ID [--backend local|kubernetes]

TARGET_OR_PEX is a Bazel target (//workflows:fraud_train, built first), a
.pex file, or `dev` for `python -m railyard.trainer` from this checkout.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
import zipfile
from pathlib import Path

from railyard.buildinfo import build_info
from railyard.errors import RailyardError, UserError
from railyard.launch import binary as binaries
from railyard.launch.job import Binary, Executor, JobRequest, JobState
from railyard.launch.render import output_uri, render, to_yaml
from railyard.launch.resources import LaunchConfig, load_config, quantity
from railyard.spec import load_spec

LOCAL_RUNS = "railyard-runs"


def git_commit_of(binary: Binary) -> str:
    """The commit stamped into a trainer binary, or this checkout's for `dev`."""
    if binary.path == binaries.DEV:
        return build_info()["git_commit"]
    try:
        with zipfile.ZipFile(binary.path) as archive:
            return json.loads(archive.read("railyard/_build_info.json"))["git_commit"]
    except (KeyError, zipfile.BadZipFile, OSError):
        return "unknown"


def executor_for(backend: str, config: LaunchConfig, args: argparse.Namespace) -> Executor:
    if backend == "kubernetes":
        from railyard.launch.kubernetes import KubernetesExecutor

        return KubernetesExecutor(config)
    from railyard.launch.local import LocalExecutor

    memory = getattr(args, "memory_limit", None)
    return LocalExecutor(config, args.jobs_dir, memory_limit_bytes=int(quantity(memory)) if memory else None,
                         deadline_seconds=getattr(args, "deadline", None))


def job_request(args: argparse.Namespace, config: LaunchConfig, backend: str) -> JobRequest:
    spec = load_spec(args.spec).with_paths_relative_to(Path.cwd())
    binary = binaries.resolve(args.binary)
    job_id = args.job_id or str(uuid.uuid4())
    if getattr(args, "output", None) or spec.output_path:
        output = args.output or spec.output_path
        output = output if "://" in output else str(Path(output).absolute())
    elif backend == "kubernetes" or args.command == "render":
        output = output_uri(config, job_id)
    else:
        output = str(Path(LOCAL_RUNS, job_id).absolute())
    return JobRequest(job_id, spec, binary, output, git_commit=git_commit_of(binary))


def cmd_render(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if args.binary == binaries.DEV:
        raise UserError("--binary dev runs only on the local backend; render a .pex or a Bazel target")
    print(to_yaml(render(job_request(args, config, "kubernetes"), config)), end="")
    return 0


def follow(executor: Executor, job_id: str) -> int:
    final = None
    for status in executor.watch(job_id):
        final = status
        print(f"{job_id} {status.describe()}", flush=True)
    return 0 if final is not None and final.state is JobState.complete else 1


def cmd_launch(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    job = job_request(args, config, args.backend)
    executor = executor_for(args.backend, config, args)
    executor.submit(job)
    print(job.job_id, flush=True)
    return follow(executor, job.job_id) if args.wait else 0


def cmd_status(args: argparse.Namespace) -> int:
    status = executor_for(args.backend, load_config(args.config), args).status(args.job_id)
    print(json.dumps({"job_id": args.job_id, "state": status.state.value, "reason": status.reason,
                      "message": status.message, "exit_code": status.exit_code}, indent=2))
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    print(executor_for(args.backend, load_config(args.config), args).logs(args.job_id), end="")
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    executor = executor_for(args.backend, load_config(args.config), args)
    executor.cancel(args.job_id)
    print(f"{args.job_id} {executor.status(args.job_id).describe()}")
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="railyard", description="Train models from training specs.")
    commands = root.add_subparsers(dest="command", required=True)

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--config", help="resource classes file (default: k8s_templates/resource_classes.yaml)")
        sub.add_argument("--jobs-dir", default="railyard-data/local-jobs", help="where the local backend keeps its jobs")

    for name, help_text in (("render", "print the Kubernetes manifests of a job"), ("launch", "start a training job")):
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--spec", required=True)
        sub.add_argument("--binary", required=True, help="Bazel target, .pex file, or 'dev'")
        sub.add_argument("--job-id")
        common(sub)
        if name == "launch":
            sub.add_argument("--backend", choices=["local", "kubernetes"], default="local")
            sub.add_argument("--wait", action="store_true", help="follow the job to its end; exit non-zero unless it completes")
            sub.add_argument("--output", help="output directory or s3:// prefix")
            sub.add_argument("--memory-limit", help="local backend: memory limit such as 2Gi (default: the resource class's)")
            sub.add_argument("--deadline", type=float, help="local backend: deadline in seconds (default: the resource class's)")
    for name in ("status", "logs", "cancel"):
        sub = commands.add_parser(name, help=f"{name} of a job")
        sub.add_argument("job_id")
        sub.add_argument("--backend", choices=["local", "kubernetes"], default="local")
        common(sub)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    handler = {"render": cmd_render, "launch": cmd_launch, "status": cmd_status, "logs": cmd_logs, "cancel": cmd_cancel}[args.command]
    try:
        return handler(args)
    except RailyardError as exc:
        print(f"railyard {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
