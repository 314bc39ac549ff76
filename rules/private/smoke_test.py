"""Smoke test of a trainer binary: train from a spec on sample data, check result.json.

Run by `railyard_trainer_test` with nothing but the standard library. The
data is the sample checked in beside the spec (`--data-file`), or else made by
a generator that runs inside the trainer pex itself (`PEX_MODULE`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path


def check(condition: bool, message: str) -> None:
    if not condition:
        sys.exit(f"FAIL: {message}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trainer", required=True)
    parser.add_argument("--spec", required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--data-module", required=True, help="sample-data generator run inside the pex")
    parser.add_argument("--data-file", default="", help="a sample of the workflow's own data; then no generator runs")
    parser.add_argument("--data-args", default="", help="its arguments besides --out")
    parser.add_argument("--metric", required=True)
    parser.add_argument("--at-least", type=float, required=True)
    parser.add_argument("--params", default="{}")
    args = parser.parse_args()

    work = Path(os.environ.get("TEST_TMPDIR", "/tmp")) / "smoke"
    work.mkdir(parents=True, exist_ok=True)
    trainer = str(Path(args.trainer).resolve())
    env = {**os.environ, "PEX_ROOT": str(work / "pex_root")}

    if args.data_file:
        data = Path(args.data_file).resolve()
    else:
        data = work / "data.parquet"
        subprocess.run([trainer, *args.data_args.split(), "--out", str(data)], env={**env, "PEX_MODULE": args.data_module}, check=True)

    spec = json.loads(Path(args.spec).read_text())
    for source in spec["data"]["features"]:
        source["path"] = str(data)
    spec["train"]["custom_params"].update({k: json.loads(v) for k, v in json.loads(args.params).items()})
    spec_path = work / "spec.json"
    spec_path.write_text(json.dumps(spec))

    output = work / "run"
    run = subprocess.run([trainer, "--spec", str(spec_path), "--output", str(output), "--job-id", "smoke"], env=env)
    if run.returncode == 2 and not args.data_file:  # a DataError: the spec does not fit the generated data
        sys.exit(f"FAIL: trainer exited 2 on {args.data_module}'s sample data (above); a workflow over columns of "
                 f"its own trains its smoke test on a sample of its data saved beside its spec as smoke.parquet "
                 f"(docs/workflows.md, Adding a workflow)")
    check(run.returncode == 0, f"trainer exited {run.returncode}")
    result = json.loads((output / "result.json").read_text())
    status = result["status"]
    check(status["transition"]["job_state"] == "complete", f"job_state {status['transition']['job_state']}")
    check(result["exception_info"] is None, f"exception_info {result['exception_info']}")
    metrics = result["result"]["metrics"]
    check(args.metric in metrics, f"no metric {args.metric}; this model has {', '.join(sorted(metrics))} (smoke_data's metric)")
    value = metrics[args.metric]
    check(value >= args.at_least, f"{args.metric} {value} is below {args.at_least}")
    check((output / "model" / result["result"]["model_id"]).exists(), "model artifact missing")
    digest = hashlib.sha256(Path(trainer).read_bytes()).hexdigest()
    check(status["binary_sha256"] == digest, f"binary_sha256 {status['binary_sha256']} != {digest}")
    check(status["build_target"] == args.target, f"build_target {status['build_target']} != {args.target}")
    check(status["git_commit"] != "", "empty git_commit")

    info = json.loads(subprocess.run([trainer, "--build-info"], env=env, capture_output=True, text=True, check=True).stdout)
    check(info["git_commit"] == status["git_commit"], "--build-info and result.json disagree on git_commit")
    print(f"PASS: {args.target}: {args.metric} {value:.3f}, commit {info['git_commit']}")


if __name__ == "__main__":
    main()
