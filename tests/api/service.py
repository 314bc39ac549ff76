"""Run `railyard serve` as a real process for the tests that need one (restarts, the browser)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import REPO, free_port


class Service:
    def __init__(self, workdir: Path, env: dict | None = None, db: str | None = None, args: tuple[str, ...] = ("--dev",),
                 defaults: bool = False):
        """`defaults`: name no locations, so the service keeps everything under $RAILYARD_ARTIFACTS (set in env)."""
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **(env or {})}
        self.db = db or str(workdir / "railyard.db")
        self.args = tuple(args)
        self.defaults = defaults
        self.process: subprocess.Popen | None = None

    def start(self) -> "Service":
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = open(self.workdir / "service.log", "ab")
        locations = [] if self.defaults else ["--db", self.db, "--artifacts", str(self.workdir / "runs"),
                                              "--jobs-dir", str(self.workdir / "jobs")]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "railyard.cli", "serve", "--port", str(self.port), *locations, *self.args],
            cwd=REPO, env=self.env, stdout=log, stderr=log,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError(f"the service did not start:\n{(self.workdir / 'service.log').read_text()}")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def peak_resident_bytes(self) -> int:
        """The service process's peak resident memory so far (the kernel's VmHWM)."""
        with open(f"/proc/{self.process.pid}/status") as status:
            return int(re.search(r"VmHWM:\s+(\d+) kB", status.read())[1]) * 1024

    def alive(self) -> bool:
        """The process runs and answers /healthz."""
        try:
            return self.process.poll() is None and httpx.get(f"{self.url}/healthz", timeout=10).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_for(self, job_id: str, states: tuple[str, ...], timeout: float = 180, headers: dict | None = None) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = httpx.get(f"{self.url}/job/{job_id}/status", headers=headers, timeout=10).json()
            if status["job_state"] in states:
                return status
            time.sleep(0.3)
        raise AssertionError(f"job {job_id} never reached {states}: {status}")
