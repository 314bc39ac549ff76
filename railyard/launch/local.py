"""The local executor: each job runs the trainer as a subprocess, watched by a supervisor process.

    <root>/<job-id>/request.json   what to run (written by submit): `--spec spec.json`, or an explanation's arguments,
                                   and the data prefixes every worker gets as RAILYARD_DATA_PREFIXES
                    spec.json      the training spec (of the explained model, for an explanation job)
                    state.json     status and transitions (written by the supervisor, atomically)
                    supervisor.pid   where cancel sends SIGTERM
                    attempts/<n>/  an earlier run's state.json and logs, kept when the service started the job again
                    trainer.log    the trainer's stdout and stderr, head and tail kept (railyard.capped_log);
                                   for a job of several workers, worker 0's with the others' lines prefixed `[worker i] `
                    trainer.pgid   the process group of each worker, one a line
                    work/          the trainer's working directory

The live supervisor holds an flock on <root>/<job-id>/ itself (local_state.py).
The root and every job directory are 0700 and every file in them 0600: a job's
spec, log and outputs are the service's user's alone. The supervisor and the
workers it starts run with umask 077, so what the trainer writes is too.
The supervisor (`python -m railyard.launch.supervisor JOB_DIR`) outlives the
command that submitted the job. It enforces the resource class's memory limit
(the resident memory of each worker's whole process group; going over kills it,
reported as OOMKilled) and deadline (DeadlineExceeded), and stops the process
groups on cancel. A job whose spec asks for `workers: N` runs N trainer processes
(railyard.launch.supervisor); it fails when any of them fails.

`status` reads state.json and, for a job not yet finished, tests the
supervisor's lock: following N jobs costs N small file reads and N flock
calls, no look at any process. A lock nobody holds means the supervisor ended
without recording how the job ended (killed with kill -9, or its machine
restarted): the job is failed with reason `Lost` and its trainer is killed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from railyard import artifacts
from railyard.errors import UserError
from railyard.launch.job import (
    LOG_PAGE_BYTES,
    Executor,
    FailureReason,
    JobRequest,
    JobState,
    JobStatus,
    StillRunning,
    UnknownJob,
)
from railyard.launch.local_state import read_state, supervised, take_lock, write_state
from railyard.launch.resources import LaunchConfig
from railyard.run_layout import LOG, RunLayout
from railyard.storage import LocalStore
from railyard.storage.local import DIR_MODE, FILE_MODE, private_dirs

POLL_SECONDS = 0.2
MAX_JOB_ID_LENGTH = 200
WIND_UP_SECONDS = 30  # how long a retry waits for the last run's supervisor to exit (it drains the log: DRAIN_SECONDS)
ATTEMPT_FILES = (LOG, "supervisor.log", "trainer.pgid", "supervisor.pid")  # one run's own, kept aside on a retry


def is_job_name(job_id: str) -> bool:
    """Whether the job id names a directory right under the executor's root (no '/', '.', '..' or NUL)."""
    return 0 < len(job_id) <= MAX_JOB_ID_LENGTH and job_id not in (".", "..") and "/" not in job_id and "\0" not in job_id


# Workers of one job on this one machine: enough to try a distributed job out, not so many that one job starves it.
MAX_LOCAL_WORKERS = 8


class LocalExecutor(Executor):
    max_workers = MAX_LOCAL_WORKERS

    def __init__(self, config: LaunchConfig, root: str | Path | None = None, *, outputs: str | None = None,
                 memory_limit_bytes: int | None = None, deadline_seconds: float | None = None):
        self.config = config
        self.root = Path(root or artifacts.local("local-jobs")).absolute()
        self.outputs = artifacts.location(base=outputs) if outputs else None  # a local path made absolute
        self.memory_limit_bytes = memory_limit_bytes
        self.deadline_seconds = deadline_seconds

    def output_uri(self, job_id: str) -> str:
        return RunLayout(self.outputs or artifacts.runs(), job_id).output

    def job_dir(self, job_id: str) -> Path:
        return self.root / job_id

    def submit(self, job: JobRequest) -> None:
        if not is_job_name(job.job_id):
            raise UserError(f"job id {job.job_id[:MAX_JOB_ID_LENGTH]!r}: expected a name of 1 to {MAX_JOB_ID_LENGTH} "
                            "characters without '/', other than '.' and '..'")
        self.admit(job.spec, job.workers)
        directory = self.job_dir(job.job_id)
        private_dirs(self.root)
        directory.mkdir(mode=DIR_MODE)
        self._start(job, directory)

    def retry(self, job: JobRequest) -> None:
        """Start a finished job again in its own directory; the ended run's state and logs go to `attempts/<n>/`."""
        directory = self._directory(job.job_id)
        if not read_state(directory).state.finished:
            raise StillRunning(f"job {job.job_id} still runs: it cannot be started again")
        try:  # its last supervisor records the end, then finishes its log and exits: the lock tells when
            lock = take_lock(directory, wait_seconds=WIND_UP_SECONDS)
        except BlockingIOError:
            raise UserError(f"job {job.job_id}: its last run's supervisor is still winding up after "
                            f"{WIND_UP_SECONDS} s; it cannot be started again yet") from None
        try:
            attempts = directory / "attempts"
            private_dirs(attempts)
            kept = attempts / str(sum(1 for _ in attempts.iterdir()) + 1)
            kept.mkdir(mode=DIR_MODE)
            shutil.copy2(directory / "state.json", kept / "state.json")  # state.json stays until the new run replaces it
            for name in ATTEMPT_FILES:
                if (directory / name).exists():
                    os.replace(directory / name, kept / name)
        except BaseException:
            os.close(lock)
            raise
        self._start(job, directory, lock)

    def _start(self, job: JobRequest, directory: Path, lock: int | None = None) -> None:
        """Start the job's supervisor, handing it the job's lock (`lock`, taken already, or taken here)."""
        lock = take_lock(directory) if lock is None else lock
        try:
            resource = self.config.resource_class(job.spec.compute_resource.value)
            LocalStore(directory).write_text("spec.json", job.spec.to_json())
            request = {
                "job_id": job.job_id,
                "binary": {"path": job.binary.path, "sha256": job.binary.sha256, "target": job.binary.target},
                "output": job.output if "://" in job.output else str(Path(job.output).absolute()),  # the trainer runs elsewhere
                "arguments": job.explanation.arguments() if job.explanation else ["--spec", str(directory / "spec.json")],
                "trainer_args": list(job.trainer_args),
                "workers": job.workers,
                "gpu": job.spec.compute_resource.value == "GPU",
                "memory_limit_bytes": self.memory_limit_bytes or resource.memory_limit_bytes,
                "deadline_seconds": self.deadline_seconds or resource.deadline_seconds,
                "data_prefixes": job.data_prefixes,
            }
            LocalStore(directory).write_text("request.json", json.dumps(request, indent=2))
            write_state(directory, JobStatus(JobState.queued))
            with os.fdopen(os.open(directory / "supervisor.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE), "ab") as log:
                supervisor = subprocess.Popen(
                    [sys.executable, "-m", "railyard.launch.supervisor", str(directory)],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, pass_fds=(lock,),
                )
        finally:
            os.close(lock)  # from here on only the supervisor holds it
        LocalStore(directory).write_text("supervisor.pid", str(supervisor.pid))

    def _directory(self, job_id: str) -> Path:
        directory = self.job_dir(job_id)
        if not is_job_name(job_id) or not (directory / "state.json").exists():
            raise UnknownJob(f"no local job {job_id} under {self.root}")
        return directory

    def status(self, job_id: str) -> JobStatus:
        directory = self._directory(job_id)
        status = read_state(directory)
        if status.state.finished or supervised(directory):
            return status
        status = read_state(directory)  # it may have finished between the two looks
        if status.state.finished:
            return status
        self._kill_trainer(directory)
        lost = JobStatus(JobState.failed, reason=FailureReason.Lost, message="the job's supervisor process ended without recording how the job ended")
        write_state(directory, lost)
        return lost

    def logs(self, job_id: str) -> str:
        path = self._directory(job_id) / LOG
        return path.read_text(errors="replace") if path.exists() else ""

    def read_log(self, job_id: str, offset: int = 0, limit: int = LOG_PAGE_BYTES) -> tuple[bytes, int]:
        if offset < 0 or limit < 0:
            raise UserError(f"log offset and limit must be >= 0, got offset {offset}, limit {limit}")
        try:
            with open(self._directory(job_id) / LOG, "rb") as log:
                log.seek(offset)
                page = log.read(min(limit, LOG_PAGE_BYTES))
        except FileNotFoundError:
            return b"", offset
        return page, offset + len(page)

    def cancel(self, job_id: str) -> None:
        directory = self._directory(job_id)
        if read_state(directory).state.finished:
            return
        if not supervised(directory):
            self._cancel_orphan(directory)
            return
        try:
            os.kill(int((directory / "supervisor.pid").read_text()), signal.SIGTERM)
        except ProcessLookupError:
            self._cancel_orphan(directory)
            return
        for _ in range(int(30 / POLL_SECONDS)):
            if read_state(directory).state.finished:
                return
            if not supervised(directory):
                break  # it ended without recording it: a SIGTERM that came before it could take it
            time.sleep(POLL_SECONDS)
        self._cancel_orphan(directory)

    def _kill_trainer(self, directory: Path) -> None:
        pgid_file = directory / "trainer.pgid"
        if not pgid_file.exists():
            return
        for pgid in pgid_file.read_text().split():
            try:
                os.killpg(int(pgid), signal.SIGKILL)
            except ProcessLookupError:
                pass

    def _cancel_orphan(self, directory: Path) -> None:
        """The supervisor is gone: stop the trainer's process group directly."""
        if read_state(directory).state.finished:
            return  # it finished on its own meanwhile: its end stands
        self._kill_trainer(directory)
        write_state(directory, JobStatus(JobState.cancelled, reason=FailureReason.Cancelled, message="its supervisor had exited"))

