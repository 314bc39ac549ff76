"""Start a job's N trainer processes by hand, as a launcher does: one command line, one environment each."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import REPO, free_port


@dataclass
class Worker:
    index: int
    returncode: int
    stderr: str


def start_worker(index: int, n: int, port: int, *args) -> subprocess.Popen:
    """`python -m railyard.trainer ARGS` as worker `index` of `n`, its rendezvous on loopback at `port`."""
    # One thread each: workers sharing one machine's cores would otherwise spin against each other.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "RAILYARD_WORKERS": str(n), "RAILYARD_WORKER_INDEX": str(index),
           "RAILYARD_RENDEZVOUS_HOST": "127.0.0.1", "RAILYARD_RENDEZVOUS_PORT": str(port)}
    return subprocess.Popen([sys.executable, "-m", "railyard.trainer", *map(str, args)], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def run_workers(n: int, *args: str, timeout: float = 300) -> list[Worker]:
    """Run `python -m railyard.trainer ARGS` as workers 0..n-1 of one job and wait for all of them."""
    port = free_port()
    processes = [start_worker(index, n, port, *args) for index in range(n)]
    workers = []
    try:
        for index, process in enumerate(processes):
            _, stderr = process.communicate(timeout=timeout)
            workers.append(Worker(index, process.returncode, stderr))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    return workers


def output_files(output: Path) -> list[str]:
    return sorted(str(p.relative_to(output)) for p in output.rglob("*") if p.is_file())
