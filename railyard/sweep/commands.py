"""`railyard sweep` (start one, and with --wait follow it on the terminal) and `railyard sweeps` (list, show, cancel)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from railyard.errors import UserError
from railyard.printable import printable

POLL_SECONDS = 2.0
FINISHED = ("complete", "failed", "cancelled")


def add_parsers(commands) -> None:
    sweep = commands.add_parser("sweep", help="search a space of a spec's values: trials as jobs, an Optuna study, a pruner")
    sweep.add_argument("--spec", required=True, help="the base spec")
    sweep.add_argument("--space", required=True, help='JSON file: spec paths mapped to distributions ({"train.custom_params.max_depth": {"int": [2, 8]}, ...})')
    sweep.add_argument("--binary", required=True, help="a published binary: NAME, NAME@sha256:HEX or sha256:HEX")
    sweep.add_argument("--workflow-module", action="append", default=[])
    sweep.add_argument("--metric", required=True, help="the holdout metric to optimize, e.g. roc_auc")
    sweep.add_argument("--direction", required=True, choices=["maximize", "minimize"])
    sweep.add_argument("--trials", type=int, required=True)
    sweep.add_argument("--parallel", type=int, default=1)
    sweep.add_argument("--pruner", choices=["median", "halving", "hyperband", "none"], default="median")
    sweep.add_argument("--sampler", choices=["tpe", "random", "grid"], default="tpe")
    sweep.add_argument("--seed", type=int, default=0)
    sweep.add_argument("--dry-run", action="store_true", help="check the spec, the space and the binary; start nothing")
    sweep.add_argument("--wait", action="store_true", help="follow the sweep to its end; exit 0 if it completed")
    sweep.add_argument("--json", action="store_true")
    sweeps = commands.add_parser("sweeps", help="list sweeps, newest first; or show one (SWEEP_ID), or cancel it")
    sweeps.add_argument("sweep_id", nargs="?")
    sweeps.add_argument("--cancel", action="store_true", help="cancel SWEEP_ID: no more trials, the running ones cancelled")
    sweeps.add_argument("--limit", type=int, default=50)
    sweeps.add_argument("--cursor")
    sweeps.add_argument("--json", action="store_true")


def _json_file(path: str, what: str) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise UserError(f"{what} {path}: {exc}") from None


def cmd_sweep(args: argparse.Namespace, client, spec: dict) -> int:
    body = {"spec": spec, "space": _json_file(args.space, "--space"), "binary": args.binary,
            "workflow_modules": args.workflow_module, "metric": args.metric, "direction": args.direction, "trials": args.trials,
            "parallel": args.parallel, "pruner": args.pruner, "sampler": args.sampler, "seed": args.seed}
    answer = client.sweep(body, dry_run=args.dry_run)
    if args.dry_run:
        show(answer, args.json, f"checked {answer['extremes_checked']} specs of the space ({', '.join(answer['paths'])}); "
                                f"{answer['trials']} trials would run")
        return 0
    print(printable(answer["sweep_id"]), flush=True)
    return follow(client, answer["sweep_id"]) if args.wait else 0


def cmd_sweeps(args: argparse.Namespace, client) -> int:
    if args.cancel and not args.sweep_id:
        raise UserError("--cancel needs a SWEEP_ID")
    if args.sweep_id:
        sweep = client.cancel_sweep(args.sweep_id) if args.cancel else client.get_sweep(args.sweep_id)
        show(sweep, args.json, describe(sweep, trials=True))
        return 0
    page = client.sweeps(limit=args.limit, cursor=args.cursor)
    show(page, args.json, "\n".join([f"{'SWEEP':36}  {'STATE':9}  {'OWNER':16}  PROGRESS",
                                      *(f"{s['sweep_id']:36}  {s['state']:9}  {s['owner'][:16]:16}  {progress_line(s)}" for s in page["sweeps"])]
                                     + ([f"more: --cursor {page['next_cursor']}"] if page.get("next_cursor") else [])))
    return 0


def show(data, as_json: bool, text: str) -> None:
    print(json.dumps(data, indent=2) if as_json else printable(text))


def progress_line(sweep: dict) -> str:
    counts = sweep.get("counts") or {}
    done = sum(counts.get(state, 0) for state in ("complete", "failed", "cancelled", "pruned"))
    line = (f"{done}/{sweep['trials']} trials done ({counts.get('complete', 0)} complete, {counts.get('pruned', 0)} pruned, "
            f"{counts.get('failed', 0) + counts.get('cancelled', 0)} failed), {counts.get('running', 0)} running, {counts.get('queued', 0)} queued")
    best = sweep.get("best")
    if best and best.get("value") is not None:
        line += f"; best {sweep['metric']} {best['value']:.6g} (trial {best['number']})"
    return line


def describe(sweep: dict, trials: bool = False) -> str:
    lines = [f"sweep {sweep['sweep_id']} {sweep['state']}: {progress_line(sweep)}"]
    if sweep.get("message"):
        lines.append(f"  {sweep['message']}")
    if sweep.get("best"):
        lines.append(f"  best: trial {sweep['best']['number']}, job {sweep['best']['job_id']}, "
                     + ", ".join(f"{path.rsplit('.', 1)[-1]}={value!r}" for path, value in sweep["best"]["values"].items()))
    for trial in sweep.get("trial_jobs", []) if trials else []:
        value = f"{trial['value']:.6g}" if trial.get("value") is not None else "-"
        lines.append(f"  {trial['number']:>4}  {trial['job_state']:9}  {value:>10}  {trial['job_id']}"
                     + (f"  {trial['message']}" if trial.get("message") and trial["job_state"] == "pruned" else ""))
    return "\n".join(lines)


def follow(client, sweep_id: str) -> int:
    """Draw the sweep's progress until it ends (a line rewritten in place on a terminal); 0 if it completed."""
    tty, shown = sys.stderr.isatty(), None
    while True:
        sweep = client.get_sweep(sweep_id)
        line = printable(f"{sweep['state']}: {progress_line(sweep)}")
        if line != shown:
            print(f"\r\x1b[2K{line}" if tty else line, end="" if tty else "\n", file=sys.stderr, flush=True)
            shown = line
        if sweep["state"] in FINISHED:
            if tty:
                print(file=sys.stderr)
            print(printable(describe(sweep)), flush=True)
            return 0 if sweep["state"] == "complete" else 1
        time.sleep(POLL_SECONDS)
