"""Running the trainer command as a launcher does, and stopping it partway, for the checkpoint tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, read_result, write_spec


def train(spec_path: Path, output: Path, *extra: str, stop_at: str | None = None, sig=signal.SIGTERM) -> tuple[int, str]:
    """Run the trainer; with `stop_at` (a piece of a progress line, such as "iteration 77/200,"), send `sig` once
    the log shows it. (exit code, log)."""
    process = subprocess.Popen([sys.executable, "-m", "railyard.trainer", "--spec", str(spec_path), "--output", str(output), *extra],
                               cwd=REPO, stderr=subprocess.PIPE, text=True, env={**os.environ, "RAILYARD_PROGRESS_SECONDS": "0"})
    lines = []
    for line in process.stderr:
        lines.append(line)
        if stop_at is not None and stop_at in line:
            process.send_signal(sig)
            stop_at = None
    process.wait(timeout=300)
    return process.returncode, "".join(lines)


def finished(output: Path) -> dict:
    document = read_result(output)
    assert document["status"]["transition"]["job_state"] == "complete", document.get("exception_info")
    return document["result"]


def newest_checkpoint(output: Path) -> int:
    return max(int(name.split("-")[1].split(".")[0]) for name in os.listdir(output / "checkpoints"))


def uninterrupted_run(spec: dict, work: Path) -> dict:
    """The result of `spec` trained in one go, never stopped: what every resumed run must end with."""
    code, log = train(write_spec(work, spec), work / "out")
    assert code == 0, log[-3000:]
    return finished(work / "out")
