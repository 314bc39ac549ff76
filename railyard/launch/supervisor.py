"""Supervisor of one local job: run the trainer, enforce its limits, record its states.

    python -m railyard.launch.supervisor JOB_DIR

The trainer runs in its own process group. Every poll the supervisor sums the
resident memory of that group; over the limit, the group is killed at once
(OOMKilled), as the kernel's cgroup OOM killer would in a Kubernetes pod. Past
the deadline, or on SIGTERM (cancel), the group gets SIGTERM and, after a grace
period, SIGKILL.

The trainer's stdout and stderr come through a pipe that a thread copies to
`trainer.log`, capped (`railyard.capped_log`: head and tail kept, the middle
left out); the log is complete, tail included, before the final state is written.

A binary that cannot be started at all fails with `LaunchFailed`; a trainer
that exits 0 without a `complete` result.json fails with `NoResult`
(`job.checked_result`, as every executor decides it).

The supervisor inherits, as an open descriptor, the job's exclusive lock on
the job's directory (taken by the submitter before it starts the supervisor) and
never closes it: the kernel releases it when the supervisor exits, however it
exits, which is how readers tell a live job from a lost one. The trainer does
not inherit it.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from railyard.capped_log import CappedLog
from railyard.launch.binary import command
from railyard.launch.job import DEADLINE_EXCEEDED, OOM_KILLED, Binary, JobState, JobStatus, checked_result
from railyard.launch.local_state import write_state
from railyard.result import read_result
from railyard.storage import LocalStore

POLL_SECONDS = 0.1
GRACE_SECONDS = 10
DRAIN_SECONDS = 10  # how long to wait for the end of the trainer's output once its process group is gone
LAUNCH_FAILED = "LaunchFailed"
_PAGE = os.sysconf("SC_PAGE_SIZE")


def group_rss_bytes(pgid: int) -> int:
    """Resident memory of every process in the process group."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid:  # field 5 of stat: the process group
                with open(f"/proc/{entry}/statm") as f:
                    total += int(f.read().split()[1]) * _PAGE
        except (OSError, IndexError, ValueError):
            continue
    return total


def stop_group(process: subprocess.Popen, grace: float) -> None:
    """SIGTERM the group, then SIGKILL whatever is left after `grace` seconds."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


class OutputPump:
    """Copies a pipe to a CappedLog on a thread until the pipe ends (or finish() stops waiting for it)."""

    def __init__(self, pipe, log: CappedLog):
        self.pipe, self.log = pipe, log
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="trainer-output", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        fd = self.pipe.fileno()
        while not self._stopping.is_set():
            if not select.select([fd], [], [], POLL_SECONDS)[0]:
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return
            self.log.write(chunk)
            self.log.flush()

    def finish(self) -> None:
        """Copy what is left, then write the tail and close the log.

        A process that left the trainer's group may still hold the pipe open; it is not waited for past DRAIN_SECONDS.
        """
        self._thread.join(DRAIN_SECONDS)
        self._stopping.set()
        self._thread.join()
        self.pipe.close()
        self.log.close()


def trainer_outcome(returncode: int, output: str) -> JobStatus:
    if returncode == 0:
        return checked_result(JobStatus(JobState.complete, exit_code=0), output)
    info = (read_result(output) or {}).get("exception_info")
    if info:
        return JobStatus.trainer_failed(info, returncode)
    return JobStatus(JobState.failed, reason="Error", message=f"trainer exited with code {returncode}", exit_code=returncode)


class Supervisor:
    def __init__(self, directory: Path):
        self.directory = directory
        self.request = json.loads((directory / "request.json").read_text())
        self.cancelled = False
        signal.signal(signal.SIGTERM, self._on_cancel)

    def _on_cancel(self, signum, frame):
        self.cancelled = True

    def run(self) -> None:
        request = self.request
        work = self.directory / "work"
        (work / "tmp").mkdir(parents=True, exist_ok=True)
        argv = command(Binary(**request["binary"])) + [
            *request["arguments"],
            "--output", request["output"],
            "--job-id", request["job_id"],
            *request["trainer_args"],
        ]
        try:
            process = subprocess.Popen(argv, cwd=work, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                       env={**os.environ, "TMPDIR": str(work / "tmp")}, start_new_session=True)
        except OSError as exc:
            return self._launch_failed(f"cannot start the trainer binary {request['binary']['path']}: {exc.strerror or exc}")
        self.output = OutputPump(process.stdout, CappedLog(self.directory / "trainer.log"))
        LocalStore(self.directory).write_text("trainer.pgid", str(process.pid))
        write_state(self.directory, JobStatus(JobState.running))
        started = time.monotonic()
        limit, deadline = request["memory_limit_bytes"], request["deadline_seconds"]
        while process.poll() is None:
            rss = group_rss_bytes(process.pid)
            if rss > limit:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                return self._finish(JobStatus(JobState.failed, reason=OOM_KILLED, exit_code=137,
                                              message=f"resident memory {rss / 2**20:.0f} MiB exceeded the limit of {limit / 2**20:.0f} MiB"))
            if time.monotonic() - started > deadline:
                stop_group(process, GRACE_SECONDS)
                return self._finish(JobStatus(JobState.failed, reason=DEADLINE_EXCEEDED, exit_code=process.returncode,
                                              message=f"the job ran longer than its deadline of {deadline:g} s"))
            if self.cancelled:
                stop_group(process, GRACE_SECONDS)
                return self._finish(JobStatus(JobState.cancelled, reason="Cancelled", exit_code=process.returncode))
            time.sleep(POLL_SECONDS)
        self._finish(trainer_outcome(process.returncode, request["output"]))

    def _finish(self, status: JobStatus) -> None:
        self.output.finish()
        write_state(self.directory, status)

    def _launch_failed(self, message: str) -> None:
        """No trainer process, so no pump: the log gets the one line saying why."""
        with CappedLog(self.directory / "trainer.log") as log:
            log.write(f"[railyard] {message}\n".encode())
        write_state(self.directory, JobStatus(JobState.failed, reason=LAUNCH_FAILED, message=message))


if __name__ == "__main__":
    Supervisor(Path(sys.argv[1])).run()
