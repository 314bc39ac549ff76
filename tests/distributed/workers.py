"""Start a job's N trainer processes by hand, as a launcher does: one command line, one environment each."""

from __future__ import annotations

import json
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
    stdout: str
    stderr: str


def start(argv: list, index: int, n: int, port: int, **env: str) -> subprocess.Popen:
    """`python ARGV` as worker `index` of `n`, its rendezvous on loopback at `port`, with `env` added."""
    environ = {**os.environ, "RAILYARD_WORKERS": str(n), "RAILYARD_WORKER_INDEX": str(index),
               "RAILYARD_RENDEZVOUS_HOST": "127.0.0.1", "RAILYARD_RENDEZVOUS_PORT": str(port), **env}
    return subprocess.Popen([sys.executable, *map(str, argv)], cwd=REPO, env=environ,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def trainer(*args) -> list:
    return ["-m", "railyard.trainer", *args]


def start_worker(index: int, n: int, port: int, *args) -> subprocess.Popen:
    """`python -m railyard.trainer ARGS` as worker `index` of `n`."""
    # One thread each: workers sharing one machine's cores would otherwise spin against each other.
    return start(trainer(*args), index, n, port, OMP_NUM_THREADS="1")


def finish(processes: list[subprocess.Popen], timeout: float) -> list[Worker]:
    """Wait for every process, each within `timeout` seconds; any still running after that is killed."""
    workers = []
    try:
        for index, process in enumerate(processes):
            stdout, stderr = process.communicate(timeout=timeout)
            workers.append(Worker(index, process.returncode, stdout, stderr))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    return workers


def run(argv: list, n: int, *, port: int | None = None, timeout: float = 300, **env: str) -> list[Worker]:
    """Run `python ARGV` as workers 0..n-1 of one job and wait for all of them."""
    port = port or free_port()
    return finish([start(argv, index, n, port, **env) for index in range(n)], timeout)


def run_workers(n: int, *args: str, timeout: float = 300) -> list[Worker]:
    """Run `python -m railyard.trainer ARGS` as workers 0..n-1 of one job and wait for all of them."""
    return run(trainer(*args), n, timeout=timeout, OMP_NUM_THREADS="1")


# A workflow module whose worker 1 fails in `train` on its own, once worker 0 is inside its first exchange.
FLAKY = """
import time
from {module} import {base}

class Flaky{base}({base}):
    def train(self, training_dataframe, holdout_dataframe):
        if self.rank == 1:
            time.sleep(1)
            raise RuntimeError("worker 1's own bug")
        return super().train(training_dataframe, holdout_dataframe)
"""


def run_with_worker_1_failing(tmp_path: Path, spec: dict, workflow: str) -> list[Worker]:
    """Train `spec` on 2 workers with `workflow` ("module:Class") made to fail on worker 1; the result is in run/."""
    module, base = workflow.split(":")
    (tmp_path / "flaky_models.py").write_text(FLAKY.format(module=module, base=base))
    spec = {**spec, "workers": 2, "train": {**spec["train"], "workflow_name": f"Flaky{base}"}}
    spec_path = tmp_path / "flaky.json"
    spec_path.write_text(json.dumps(spec))
    argv = trainer("--spec", spec_path, "--output", tmp_path / "run", "--job-id", "flaky", "--workflow-module", "flaky_models")
    return run(argv, 2, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))


def output_files(output: Path) -> list[str]:
    return sorted(str(p.relative_to(output)) for p in output.rglob("*") if p.is_file())
