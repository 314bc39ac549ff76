"""Packaging benchmark: how the fraud trainer .pex starts and how fast Bazel rebuilds it.

    python -m bench.packaging [--repeat 5]

Prints, side by side in one run:
  * warm start: process start to the first line of the workflow's module, for
    the pex (its virtualenv already built by an earlier run) and for a plain
    virtualenv importing the same packages (median of --repeat runs);
  * cold start: `fraud_train.pex --build-info` with an empty PEX_ROOT, through
    railyard's boot and through pex's own bootstrap, against the same command
    from a plain virtualenv and against the floor (copying the already unpacked
    tree, plus the plain virtualenv's start); medians of --repeat interleaved
    rounds, with the pex's and the unpacked tree's sizes;
  * a no-op `bazel build` of //workflows:fraud_train;
  * the rebuild after editing one line of the workflow's source.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET = "//workflows:fraud_train"
PEX = REPO / "bazel-bin" / "workflows" / "fraud_train.pex"
WORKFLOW_SOURCE = REPO / "workflows" / "fraud" / "workflow.py"
WORKFLOW_MODULE = "workflows.fraud.workflow"
VENV_PYTHON = str(REPO / ".venv" / "bin" / "python")
BAZEL = ["bazel"]  # run in the checkout: tools/bazel keeps the output root make uses


def timed(argv: list[str], env: dict | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(argv, cwd=REPO, env={**os.environ, **(env or {})}, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def tree_bytes(root: Path) -> int:
    return sum(f.stat().st_size for f in root.rglob("*") if f.is_file() and not f.is_symlink())


def cold_start(repeat: int) -> dict:
    """Interleaved rounds, each in fresh directories on the checkout's filesystem."""
    build_info = [str(PEX), "--build-info"]
    rounds: dict[str, list[float]] = {"boot": [], "pex_runtime": [], "venv": [], "floor": []}
    (REPO / ".cache").mkdir(exist_ok=True)
    for number in range(repeat):
        with tempfile.TemporaryDirectory(prefix="cold-start-", dir=REPO / ".cache") as tmp:
            rounds["boot"].append(timed(build_info, {"PEX_ROOT": f"{tmp}/boot"}))
            # Any PEX_* setting but PEX_ROOT/PEX_MODULE hands the run to pex's own bootstrap.
            rounds["pex_runtime"].append(timed(build_info, {"PEX_ROOT": f"{tmp}/pex", "PEX_VERBOSE": "0"}))
            venv = timed([VENV_PYTHON, "-m", "railyard.trainer", "--build-info"])
            rounds["venv"].append(venv)
            rounds["floor"].append(timed(["cp", "-a", f"{tmp}/boot/railyard", f"{tmp}/copy"]) + venv)
            if number == 0:
                unpacked = tree_bytes(Path(tmp) / "boot" / "railyard")
    medians = {name: statistics.median(values) for name, values in rounds.items()}
    return {**medians, "unpacked_bytes": unpacked, "ratio": medians["boot"] / medians["venv"]}


def bazel_build() -> float:
    return timed(BAZEL + ["build", TARGET])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    bazel_build()
    noop = min(bazel_build() for _ in range(3))

    original = WORKFLOW_SOURCE.read_text()
    try:
        WORKFLOW_SOURCE.write_text(original + "# benchmark edit\n")
        rebuild = bazel_build()
    finally:
        WORKFLOW_SOURCE.write_text(original)
    bazel_build()

    with tempfile.TemporaryDirectory(prefix="railyard-pex-root-") as pex_root:
        pex_env = {"PEX_ROOT": pex_root, "PEX_MODULE": WORKFLOW_MODULE}
        timed([str(PEX)], pex_env)
        warm_pex = statistics.median(timed([str(PEX)], pex_env) for _ in range(args.repeat))
    warm_venv = statistics.median(timed([VENV_PYTHON, "-c", f"import {WORKFLOW_MODULE}"]) for _ in range(args.repeat))
    cold = cold_start(args.repeat)

    report = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "pex_bytes": PEX.stat().st_size,
        "warm_start_pex_seconds": round(warm_pex, 2),
        "warm_start_virtualenv_seconds": round(warm_venv, 2),
        "warm_start_overhead_seconds": round(warm_pex - warm_venv, 2),
        "cold_start_seconds": {k: round(v, 2) for k, v in cold.items() if k != "unpacked_bytes"},
        "unpacked_bytes": cold["unpacked_bytes"],
        "noop_bazel_build_seconds": round(noop, 2),
        "one_line_edit_rebuild_seconds": round(rebuild, 2),
    }
    (REPO / "bench" / "out").mkdir(parents=True, exist_ok=True)
    (REPO / "bench" / "out" / "packaging.json").write_text(json.dumps(report, indent=2))

    print(f"\n{TARGET} ({PEX.stat().st_size / 2**20:.0f} MiB), {report['machine']}")
    print(f"{'warm start to the workflow module, pex':44}{warm_pex:7.2f} s")
    print(f"{'the same imports in a plain virtualenv':44}{warm_venv:7.2f} s")
    print(f"{'  pex overhead (target <= 0.5 s)':44}{warm_pex - warm_venv:7.2f} s")
    print(f"\ncold start, `--build-info` with an empty PEX_ROOT (median of {args.repeat} interleaved rounds)")
    print(f"{'  pex, railyard boot':44}{cold['boot']:7.2f} s")
    print(f"{'  pex, pex runtime':44}{cold['pex_runtime']:7.2f} s")
    print(f"{'  plain virtualenv':44}{cold['venv']:7.2f} s")
    print(f"{'  floor: copy unpacked tree + plain venv':44}{cold['floor']:7.2f} s")
    print(f"{'  boot / plain venv (target <= 4.5x)':44}{cold['ratio']:7.2f} x")
    print(f"{'  pex / unpacked':44}{PEX.stat().st_size / 2**20:7.0f} MiB / {cold['unpacked_bytes'] / 2**20:.0f} MiB\n")
    print(f"{'no-op bazel build (target < 2 s)':44}{noop:7.2f} s")
    print(f"{'rebuild after a one-line edit (target < 30 s)':44}{rebuild:7.2f} s")


if __name__ == "__main__":
    main()
