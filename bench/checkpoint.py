"""What checkpoints cost a fit, and what a pre-emption loses, on the fraud job.

    python -m bench.checkpoint [--rows 10000000] [--trees 100] [--depth 6] [--subsample 0.8]

The trainer runs the fraud spec on generated charges (as bench.trainer_vs_plain)
with checkpoints off (and `exact: false`: XGBoost as it always is) and on (the
defaults: every tenth of the rounds, every 300 s, exact), in turns off, on, on, off, so that both meet the same machine; the
fit's wall time (the train step) of each is compared, and the time the runs
spent writing checkpoints is read from result.json. Then one run gets SIGTERM
in the middle of the fit: the time from the signal to the trainer's exit, and
the rounds its retry does again; and one gets SIGKILL: the rounds its retry
does again (at most one checkpoint interval). With --subsample, the fit samples
rows and columns, and "on" includes seeding each round from its number
(xgboost_loop.SeededRounds), which makes a resumed run exact. Results also go to
bench/out/checkpoint.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.trainer_vs_plain import OUT, REPO, charges_file, fraud_spec


def trainer(spec: Path, output: Path, stop_at: int | None = None, sig=signal.SIGTERM, trees: int = 0) -> dict:
    """One trainer run; with `stop_at`, `sig` once the log reports that round. Its result.json and timings."""
    env = {**os.environ, "RAILYARD_PROGRESS_SECONDS": "0" if stop_at else "2"}
    process = subprocess.Popen([sys.executable, "-m", "railyard.trainer", "--spec", str(spec), "--output", str(output)],
                               cwd=REPO, stderr=subprocess.PIPE, text=True, env=env)
    signalled = None
    for line in process.stderr:
        if stop_at is not None and signalled is None and f"iteration {stop_at}/{trees}," in line:
            process.send_signal(sig)
            signalled = time.perf_counter()
    process.wait()
    document = json.loads((output / "result.json").read_text())
    return {"code": process.returncode, "document": document,
            "exit_after_signal_s": round(time.perf_counter() - signalled, 2) if signalled else None}


def fit_seconds(document: dict) -> float:
    return next(s["wall_seconds"] for s in document["result"]["steps"] if s["name"] == "train")


def with_checkpoints(spec_path: Path, enabled: bool, subsample: float | None) -> Path:
    spec = json.loads(spec_path.read_text())
    spec["checkpoints"] = {"enabled": enabled, "exact": enabled}
    if subsample:
        spec["train"]["custom_params"].update({"subsample": subsample, "colsample_bynode": 0.5})
    path = OUT / f"checkpoint-bench-{'on' if enabled else 'off'}.json"
    path.write_text(json.dumps(spec, indent=2))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--trees", type=int, default=100)
    parser.add_argument("--depth", type=int, default=6)
    parser.add_argument("--subsample", type=float, help="sample this fraction of rows, and one of the two features per node")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    data = charges_file(args.rows)
    base = fraud_spec(data, args.trees, args.depth)
    specs = {turn: with_checkpoints(base, turn == "on", args.subsample) for turn in ("off", "on")}
    output = OUT / "checkpoint-run"

    fits, written = {"off": [], "on": []}, []
    for turn in ("off", "on", "on", "off"):
        print(f"fit with checkpoints {turn} ...", flush=True)
        shutil.rmtree(output, ignore_errors=True)
        run = trainer(specs[turn], output)
        assert run["code"] == 0, run["document"].get("exception_info")
        fits[turn].append(fit_seconds(run["document"]))
        if turn == "on":
            written.append(run["document"]["result"]["checkpoints"])

    middle = args.trees // 2 + 3
    print(f"SIGTERM at round {middle}, then the retry ...", flush=True)
    shutil.rmtree(output, ignore_errors=True)
    stopped = trainer(specs["on"], output, stop_at=middle, trees=args.trees)
    retried = trainer(specs["on"], output)
    term = {"exit_code": stopped["code"], "exit_after_signal_s": stopped["exit_after_signal_s"],
            "redone_rounds": retried["document"]["result"]["checkpoints"]["resumed"]["redone_iterations"]}

    print(f"SIGKILL at round {middle}, then the retry ...", flush=True)
    shutil.rmtree(output, ignore_errors=True)
    trainer(specs["on"], output, stop_at=middle, sig=signal.SIGKILL, trees=args.trees)
    retried = trainer(specs["on"], output)
    resumed = retried["document"]["result"]["checkpoints"]["resumed"]
    kill = {"resumed_from": resumed["from_iteration"], "redone_rounds": resumed["redone_iterations"],
            "checkpoint_interval_rounds": max(1, args.trees // 10)}
    shutil.rmtree(output, ignore_errors=True)

    off, on = statistics.median(fits["off"]), statistics.median(fits["on"])
    writing = statistics.median(w["seconds"] for w in written)
    report = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "rows": args.rows, "trees": args.trees, "depth": args.depth, "subsample": args.subsample,
        "fit_seconds": fits, "checkpoints_per_fit": written[0]["written"], "writing_seconds": writing,
        "overhead_of_fit": round((on - off) / off, 4), "writing_of_fit": round(writing / on, 4),
        "sigterm": term, "sigkill": kill,
    }
    (OUT / f"checkpoint{'-sampling' if args.subsample else ''}.json").write_text(json.dumps(report, indent=2))
    sampling = f", subsample {args.subsample} and one feature per node" if args.subsample else ""
    print(f"\nfraud job, {args.rows:,} rows, {args.trees} trees depth {args.depth}{sampling} ({report['machine']})")
    print(f"fit with checkpoints off: {' '.join(f'{s:.2f}' for s in fits['off'])} s; on: {' '.join(f'{s:.2f}' for s in fits['on'])} s")
    print(f"{report['checkpoints_per_fit']} checkpoints written in {writing:.3f} s = {report['writing_of_fit']:.2%} of the fit; "
          f"median fit on vs off: {report['overhead_of_fit']:+.2%} (goal <= 3%)")
    print(f"SIGTERM at round {middle}: exit {term['exit_code']} after {term['exit_after_signal_s']} s, "
          f"retry redid {term['redone_rounds']} rounds")
    print(f"SIGKILL at round {middle}: the retry resumed from round {kill['resumed_from']} and redid {kill['redone_rounds']} "
          f"rounds (goal <= one interval, {kill['checkpoint_interval_rounds']} rounds)")


if __name__ == "__main__":
    main()
