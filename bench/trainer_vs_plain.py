"""The trainer against a hand-written pandas + xgboost script doing the same fraud job.

    python -m bench.trainer_vs_plain [--rows 10000000] [--trees 100] [--depth 6]

Both run as fresh processes on the same generated charges (filter
charge_country IsIn [US, CA], holdout DATE_RANGE 2018-10-01..2019-01-01,
xgboost hist). Prints wall time and peak resident memory (from the kernel's
rusage of each process) side by side, their ratios, and the trainer's own
per-step breakdown. Results are also written to bench/out/trainer_vs_plain.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

from workflows.data import charges

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out"


def run_child(name: str, argv: list[str]) -> dict:
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os.chdir(REPO)
        devnull = os.open(os.devnull, os.O_WRONLY)
        log = os.open(OUT / f"{name}.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(devnull, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.execv(argv[0], argv)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)} failed with status {status}")
    return {"wall_seconds": round(wall, 2), "peak_rss_bytes": usage.ru_maxrss * 1024}


def charges_file(rows: int) -> Path:
    """`rows` generated charges in bench/out/, made once and kept for every benchmark that asks."""
    data = OUT / f"charges-{rows}.parquet"
    if not data.exists():
        print(f"generating {rows:,} charges into {data} ...", flush=True)
        charges.write(rows, data)
    return data


def fraud_spec(data: Path, trees: int, depth: int) -> Path:
    spec = json.loads((REPO / "workflows" / "fraud" / "spec.json").read_text())
    spec["data"]["features"][0]["path"] = str(data)
    spec["train"]["custom_params"].update(n_estimators=trees, max_depth=depth)
    path = OUT / "fraud-bench-spec.json"
    path.write_text(json.dumps(spec, indent=2))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--trees", type=int, default=100)
    parser.add_argument("--depth", type=int, default=6)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    data = charges_file(args.rows)
    spec = fraud_spec(data, args.trees, args.depth)

    print("running the trainer ...", flush=True)
    trainer = run_child("trainer", [sys.executable, "-m", "railyard.trainer", "--spec", str(spec), "--output", str(OUT / "trainer-run"), "--job-id", "bench"])
    print("running the plain script ...", flush=True)
    plain = run_child("plain", [sys.executable, "-m", "bench.plain_fraud", str(data), str(OUT / "plain-run"), str(args.trees), str(args.depth)])

    result = json.loads((OUT / "trainer-run" / "result.json").read_text())["result"]
    steps = {s["name"]: s for s in result["steps"]}
    fit = steps["train"]["wall_seconds"]
    other = sum(s["wall_seconds"] for name, s in steps.items() if name != "train")
    report = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "rows": args.rows,
        "trees": args.trees,
        "depth": args.depth,
        "trainer": trainer,
        "plain": plain,
        "wall_ratio": round(trainer["wall_seconds"] / plain["wall_seconds"], 3),
        "memory_ratio": round(trainer["peak_rss_bytes"] / plain["peak_rss_bytes"], 3),
        "trainer_steps": {name: {"wall_seconds": s["wall_seconds"], "peak_mib": round(s["peak_memory_bytes"] / 2**20)} for name, s in steps.items()},
        "non_fit_over_fit": round(other / fit, 3),
        "holdout_roc_auc": result["metrics"]["roc_auc"],
    }
    (OUT / "trainer_vs_plain.json").write_text(json.dumps(report, indent=2))

    mib = 2**20
    print(f"\nfraud job, {args.rows:,} rows, {args.trees} trees depth {args.depth} ({report['machine']})")
    print(f"{'':14}{'wall s':>10}{'peak MiB':>12}")
    print(f"{'trainer':14}{trainer['wall_seconds']:>10.1f}{trainer['peak_rss_bytes'] / mib:>12.0f}")
    print(f"{'plain script':14}{plain['wall_seconds']:>10.1f}{plain['peak_rss_bytes'] / mib:>12.0f}")
    print(f"{'ratio':14}{report['wall_ratio']:>10.2f}{report['memory_ratio']:>12.2f}   (targets: <= 0.85 wall, <= 0.65 memory)")
    print("\ntrainer steps: " + ", ".join(f"{n} {v['wall_seconds']:.2f}s/{v['peak_mib']} MiB" for n, v in report["trainer_steps"].items()))
    print(f"everything but fit: {other:.2f}s = {report['non_fit_over_fit']:.0%} of the fit time (target < 20%)")


if __name__ == "__main__":
    main()
