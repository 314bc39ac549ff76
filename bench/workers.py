"""One model trained by 1, 2 and 4 workers side by side: each worker's peak memory, wall time, holdout AUC.

    python -m bench.workers [--rows 10000000] [--trees 100] [--mlp-rows 1000000]

The fraud spec (XGBoost through its collective) runs with 1, 2 and 4 workers on
the same generated charges, the MLP spec (torch.distributed) with 1 and 2. The
workers are started as the local executor starts them: one trainer process
each, the same command line, their own RAILYARD_WORKER_INDEX, the machine's
cores shared out as OMP_NUM_THREADS. Peak memory is each worker process's
own resident memory, sampled every 20 ms. Targets: with 4 workers each worker under 0.35× the
single worker's peak, AUC within 0.005 of it. Results also go to
bench/out/workers.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import sys
import time
from pathlib import Path

from bench.trainer_vs_plain import charges_file

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out"
SAMPLE_SECONDS = 0.02


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def resident_bytes(pid: int) -> int:
    """The process's resident memory now; 0 once it has ended. Sampled, because the trainer resets the
    kernel's high-water mark at each step (to report each step's own peak), which leaves ru_maxrss at
    the last step's."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))
    except (OSError, StopIteration):
        return 0


def peaks_until_done(pids: list[int], logs: list[Path]) -> list[int]:
    """Each process's peak resident memory, sampled until every one has ended; SystemExit naming the log of one
    that fails."""
    running, peaks = dict(zip(pids, range(len(pids)))), [0] * len(pids)
    while running:
        for pid, index in running.items():
            peaks[index] = max(peaks[index], resident_bytes(pid))
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            time.sleep(SAMPLE_SECONDS)
            continue
        index = running.pop(pid)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"process {index} failed; see {logs[index]}")
    return peaks


def spawn(argv: list[str], env: dict, log: Path) -> int:
    pid = os.fork()
    if pid == 0:
        os.chdir(REPO)
        out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.execve(argv[0], argv, env)
    return pid


def run_job(name: str, data: Path, workers: int, **params) -> dict:
    """Train the example spec `name` on `data` with `workers` trainer processes; wall time, each worker's peak
    memory, holdout metrics."""
    spec = spec_for(name, data, workers, **params)
    output = OUT / f"{name}-{workers}"
    argv = [sys.executable, "-m", "railyard.trainer", "--spec", str(spec), "--output", str(output), "--job-id", f"{name}-{workers}"]
    port, threads = free_port(), str(max(1, len(os.sched_getaffinity(0)) // workers))
    started = time.perf_counter()
    logs = [OUT / f"{name}-{workers}-worker-{index}.log" for index in range(workers)]
    pids = []
    for index, log in enumerate(logs):
        env = dict(os.environ)
        if workers > 1:
            env.update(RAILYARD_WORKERS=str(workers), RAILYARD_WORKER_INDEX=str(index), RAILYARD_RENDEZVOUS_HOST="127.0.0.1",
                       RAILYARD_RENDEZVOUS_PORT=str(port), OMP_NUM_THREADS=threads)
        pids.append(spawn(argv, env, log))
    peaks = peaks_until_done(pids, logs)
    wall = time.perf_counter() - started
    result = json.loads((output / "result.json").read_text())["result"]
    return {"workers": workers, "wall_seconds": round(wall, 2), "peak_rss_bytes": peaks,
            "holdout_rows": result["holdout_rows"], "roc_auc": result["metrics"].get("roc_auc")}


def spec_for(name: str, data: Path, workers: int, **params) -> Path:
    spec = json.loads((REPO / "workflows" / name / "spec.json").read_text())
    spec["data"]["features"][0]["path"] = str(data)
    spec["train"]["custom_params"].update(params)
    spec["workers"] = workers
    path = OUT / f"{name}-{workers}-spec.json"
    path.write_text(json.dumps(spec, indent=2))
    return path


# What a worker holds before it reads a row: the interpreter, Arrow, pandas, scikit-learn, its engine, the trainer.
IMPORTS = "pyarrow.dataset, pandas, sklearn.pipeline, railyard.trainer, railyard.pipeline.run"
FIXED = {"fraud": f"{IMPORTS}, xgboost, workflows.fraud.workflow", "mlp": f"{IMPORTS}, torch.distributed, workflows.mlp.workflow"}


def fixed_bytes(name: str) -> int:
    """Resident memory of a worker's imports alone, with nothing read."""
    log = OUT / "fixed.log"
    pid = spawn([sys.executable, "-c", f"import {FIXED[name]}; import time; time.sleep(2)"], dict(os.environ), log)
    return peaks_until_done([pid], [log])[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--trees", type=int, default=100)
    parser.add_argument("--mlp-rows", type=int, default=1_000_000)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)

    fraud_data, mlp_data = charges_file(args.rows), charges_file(args.mlp_rows)
    runs = {"fraud": [], "mlp": []}
    for workers in (1, 2, 4):
        print(f"fraud, {workers} worker(s) ...", flush=True)
        runs["fraud"].append(run_job("fraud", fraud_data, workers, n_estimators=args.trees))
    for workers in (1, 2):
        print(f"mlp, {workers} worker(s) ...", flush=True)
        runs["mlp"].append(run_job("mlp", mlp_data, workers))
    fixed = {name: fixed_bytes(name) for name in runs}
    report = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
              "rows": args.rows, "trees": args.trees, "mlp_rows": args.mlp_rows, "fixed_rss_bytes": fixed, "runs": runs}
    (OUT / "workers.json").write_text(json.dumps(report, indent=2))

    mib = 2**20
    for name, rows in (("fraud", args.rows), ("mlp", args.mlp_rows)):
        single = runs[name][0]
        print(f"\n{name}, {rows:,} rows ({report['machine']}); fixed {fixed[name] / mib:.0f} MiB")
        print(f"{'workers':>8}{'wall s':>9}{'peak MiB per worker':>26}{'× single':>10}{'above fixed':>13}{'ROC AUC':>10}{'Δ AUC':>9}")
        for run in runs[name]:
            peak = max(run["peak_rss_bytes"])
            delta = run["roc_auc"] - single["roc_auc"]
            above = (peak - fixed[name]) / (max(single["peak_rss_bytes"]) - fixed[name])
            print(f"{run['workers']:>8}{run['wall_seconds']:>9.1f}{' / '.join(f'{p / mib:.0f}' for p in run['peak_rss_bytes']):>26}"
                  f"{peak / max(single['peak_rss_bytes']):>10.2f}{above:>13.2f}{run['roc_auc']:>10.4f}{delta:>+9.4f}")
    print("\nfixed: a worker's imports with nothing read; 'above fixed' compares what the largest worker holds"
          " beyond it with what the single worker holds beyond it")
    print("targets: 4 workers each under 0.35x the single worker's peak; AUC within 0.005 of the single worker's")


if __name__ == "__main__":
    main()
