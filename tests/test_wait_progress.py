"""`--wait` draws a progress bar on a terminal and plain lines elsewhere; the service's status carries progress.

Real `railyard` processes: `launch --wait` on the local executor, and `submit --wait`
against a real `railyard serve --dev`, each under a pseudo-terminal and without one.
"""

import fcntl
import json
import os
import re
import select
import struct
import subprocess
import sys
import termios
import threading
import time

import httpx
import pytest

from railyard.pipeline.progress import INTERVAL_ENV
from tests.api.service import Service
from tests.conftest import REPO, example_spec, write_spec

pytestmark = pytest.mark.slow

TREES = 2000  # a few seconds of training: long enough to be seen part way
BAR = re.compile(r"\r(?!\n)train  \[(?=[#.]{10})#*\.*\] \d+/2000 iterations  elapsed \d+:\d\d.*holdout rmse \d")  # a bar, however full
ENV = {**os.environ, INTERVAL_ENV: "0.2"}


def spec_file(tmp_path, charges_path):
    spec = example_spec("fraud", charges_path)
    spec["train"]["custom_params"]["n_estimators"] = TREES
    return str(write_spec(tmp_path, spec))


class Terminal:
    """A command run on a pseudo-terminal 120 columns wide; what it writes is collected as it comes."""

    def __init__(self, argv: list[str], env: dict):
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        self.process = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, cwd=REPO, env=env)
        os.close(slave)
        self.master, self.output = master, b""
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        while True:
            ready, _, _ = select.select([self.master], [], [], 1)
            if not ready:
                if self.process.poll() is not None:
                    break
                continue
            try:
                data = os.read(self.master, 65536)
            except OSError:  # EIO: every writer closed the terminal
                break
            if not data:
                break
            self.output += data

    def text(self) -> str:
        return self.output.decode(errors="replace")

    def wait(self, timeout: float) -> tuple[int, str]:
        code = self.process.wait(timeout=timeout)
        self.reader.join(timeout=30)
        os.close(self.master)
        return code, self.text()


def test_launch_wait_on_a_terminal_draws_a_bar(tmp_path, charges_path):
    terminal = Terminal([sys.executable, "-m", "railyard.cli", "launch", "--spec", spec_file(tmp_path, charges_path),
                         "--binary", "dev", "--wait", "--jobs-dir", str(tmp_path / "jobs"), "--output", str(tmp_path / "run")],
                        ENV)
    code, output = terminal.wait(timeout=600)
    assert code == 0, output
    assert BAR.search(output), output
    job_id = output.splitlines()[0].strip()
    assert re.search(rf"(^|\r){re.escape(job_id)} complete\r\n", output, re.M)
    assert json.loads((tmp_path / "run" / "result.json").read_text())["result"]["learning_curve"]["total"] == TREES


def test_launch_wait_without_a_terminal_prints_plain_lines(tmp_path, charges_path):
    run = subprocess.run([sys.executable, "-m", "railyard.cli", "launch", "--spec", spec_file(tmp_path, charges_path),
                          "--binary", "dev", "--wait", "--jobs-dir", str(tmp_path / "jobs"), "--output", str(tmp_path / "run")],
                         cwd=REPO, env=ENV, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert "\r" not in run.stdout and "\r" not in run.stderr
    job_id, *states = run.stdout.splitlines()
    assert states[-2:] == [f"{job_id} running", f"{job_id} complete"]  # state changes: on stdout, as before
    progress = run.stderr.splitlines()
    assert progress and all(re.match(r"(queued|running|train)( |$)", line) for line in progress), run.stderr
    assert any(line.startswith("train") for line in progress)
    assert "[#" not in run.stderr


def test_submit_wait_on_a_terminal_and_the_status_progress(tmp_path, charges_path):
    service = Service(tmp_path / "svc", env={INTERVAL_ENV: "0.2"}).start()
    try:
        terminal = Terminal([sys.executable, "-m", "railyard.cli", "submit", spec_file(tmp_path, charges_path),
                             "--binary", "dev", "--wait"], {**service.env, "RAILYARD_URL": service.url})
        deadline = time.monotonic() + 120
        while terminal.text().count("\n") < 2 and time.monotonic() < deadline:  # the check's line, then the job id
            time.sleep(0.1)
        checked, job_id = [line.strip() for line in terminal.text().splitlines()[:2]]
        assert checked.startswith("checked against the data: ")  # submit checks the spec first, on stderr
        seen = None
        while time.monotonic() < deadline + 300:
            status = httpx.get(f"{service.url}/job/{job_id}/status", timeout=10).json()
            if (status.get("progress") or {}).get("iteration"):
                seen = status["progress"]
                break
            if status["job_state"] in ("complete", "failed", "cancelled"):
                break
            time.sleep(0.1)
        code, output = terminal.wait(timeout=600)
        assert code == 0, output + (service.workdir / "service.log").read_text()
        assert seen is not None, "the status never carried the progress of the running job"
        assert (seen["step"], seen["unit"], seen["total"], seen["metric"]) == ("train", "iteration", TREES, "rmse")
        assert 1 <= seen["iteration"] <= TREES and seen["elapsed_s"] >= 0 and seen["holdout"] > 0
        assert BAR.search(output), output
        final = httpx.get(f"{service.url}/job/{job_id}/status", timeout=10).json()
        assert final["job_state"] == "complete" and final["progress"] is None
    finally:
        service.stop()
