"""Supervisor of one local job: run its trainer workers, enforce their limits, record its states.

    python -m railyard.launch.supervisor JOB_DIR

A job of N workers (`workers` in request.json, 1 by default) runs the same
trainer command line N times; for N > 1 each worker gets the distributed
environment (RAILYARD_WORKERS, RAILYARD_WORKER_INDEX, RAILYARD_RENDEZVOUS_HOST
127.0.0.1, RAILYARD_RENDEZVOUS_PORT: a base port P with P and P + 1 free, and
RAILYARD_RENDEZVOUS_DIR: a fresh directory only the job's user may open, where
torch.distributed keeps its store as a file rather than a listening server;
RAILYARD_EXCHANGE_TIMEOUT: the job's deadline). Every worker gets the job's
data prefixes as RAILYARD_DATA_PREFIXES (none: the variable is removed).

Each worker runs in its own process group. Every poll the supervisor sums the
resident memory of each group; a worker over the limit has its group killed at
once (OOMKilled), as the kernel's cgroup OOM killer would in a Kubernetes pod.
When any worker exits non-zero or is killed, the others are stopped and the job
fails with `WorkerFailed`, naming the worker (worker 0's own `exception_info`
wins when it failed on its own). A worker whose link to the others broke exits 3
(`WorkerLinkLost`): it is named only when no worker failed on its own. The job
is complete only when every worker exited 0 and worker 0's result.json says
complete. Past the deadline, or on SIGTERM (cancel), every group gets SIGTERM
and, after a grace period, SIGKILL.

The workers' stdout and stderr come through pipes that threads copy to
`trainer.log`, capped (`railyard.capped_log`: head and tail kept, the middle
left out): worker 0's output as it is, whole lines of worker i > 0 prefixed
`[worker i] `. The log is complete, tail included, before the final state is written.

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
import math
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from railyard.capped_log import CappedLog
from railyard.errors import EXIT_BAD_SPEC, EXIT_LINK_LOST
from railyard.launch.binary import command
from railyard.launch.job import (
    Binary,
    FailureReason,
    JobState,
    JobStatus,
    checked_result,
    exit_described,
    worker_exited,
)
from railyard.launch.local_state import write_state
from railyard.result import read_result
from railyard.run_layout import LOG
from railyard.storage import LocalStore
from railyard.storage.local import PRIVATE_UMASK
from railyard.storage.prefixes import with_prefixes

POLL_SECONDS = 0.1
GRACE_SECONDS = 10
SETTLE_SECONDS = 2  # how long worker 0 may take to end on its own once another worker failed
DRAIN_SECONDS = 10  # how long to wait for the end of the trainer's output once its process group is gone
LOOPBACK = "127.0.0.1"
LONGEST_LINE = 1 << 16  # a worker's unfinished line longer than this goes to the log as it is
_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_by_group(pgids: set[int]) -> dict[int, int]:
    """Resident memory of every process in each of the process groups, in one pass over /proc."""
    totals = dict.fromkeys(pgids, 0)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            pgid = int(fields[2])  # field 5 of stat: the process group
            if pgid in totals:
                with open(f"/proc/{entry}/statm") as f:
                    totals[pgid] += int(f.read().split()[1]) * _PAGE
        except (OSError, IndexError, ValueError):
            continue
    return totals


def stop_groups(processes: list[subprocess.Popen], grace: float) -> None:
    """SIGTERM every process's group, then SIGKILL whatever is left after `grace` seconds."""
    for process in processes:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    end = time.monotonic() + grace
    for process in processes:
        try:
            process.wait(timeout=max(end - time.monotonic(), 0))
        except subprocess.TimeoutExpired:
            pass
    for process in processes:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()


def free_base_port(host: str = LOOPBACK) -> int:
    """A port P such that P and P + 1 are both free on `host` now (XGBoost's tracker takes P, torch's store P + 1)."""
    for _ in range(100):
        with socket.socket() as first:
            first.bind((host, 0))
            port = first.getsockname()[1]
            if port >= 65535:
                continue
            with socket.socket() as second:
                try:
                    second.bind((host, port + 1))
                except OSError:
                    continue
            return port
    raise OSError(f"no two consecutive free ports on {host}")


def worker_environment(index: int, workers: int, port: int | None, rendezvous_dir: str | None = None,
                       deadline_seconds: float | None = None, gpu: bool = False) -> dict[str, str]:
    """The distributed environment of worker `index`; none for a job of one worker. Workers sharing this
    machine share its cores: each gets its part as OMP_NUM_THREADS (unless the caller set it), since
    N workers each starting a thread per core slow collective training down many times over. Workers of a GPU
    job get one GPU each (the index-th of CUDA_VISIBLE_DEVICES, or of all), which each sees as `cuda:0`."""
    if workers == 1:
        return {}
    threads = os.environ.get("OMP_NUM_THREADS") or str(max(1, len(os.sched_getaffinity(0)) // workers))
    return {"RAILYARD_WORKERS": str(workers), "RAILYARD_WORKER_INDEX": str(index),
            "RAILYARD_RENDEZVOUS_HOST": LOOPBACK, "RAILYARD_RENDEZVOUS_PORT": str(port), "OMP_NUM_THREADS": threads,
            **({"RAILYARD_RENDEZVOUS_DIR": rendezvous_dir} if rendezvous_dir else {}),
            **({"RAILYARD_EXCHANGE_TIMEOUT": str(max(1, math.ceil(deadline_seconds)))} if deadline_seconds else {}),
            **({"CUDA_VISIBLE_DEVICES": _one_gpu(index)} if gpu else {})}


def _one_gpu(index: int) -> str:
    """Worker `index`'s GPU: the index-th visible one; none ("") when there are fewer, so it fails saying so."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return str(index)
    devices = [d for d in visible.split(",") if d.strip()]
    return devices[index] if index < len(devices) else ""


class SharedLog:
    """One CappedLog written by several pumps, one write at a time."""

    def __init__(self, log: CappedLog):
        self.log = log
        self._lock = threading.Lock()

    def write(self, data: bytes) -> None:
        with self._lock:
            self.log.write(data)
            self.log.flush()

    def close(self) -> None:
        with self._lock:
            self.log.close()


class OutputPump:
    """Copies a pipe to a SharedLog on a thread until the pipe ends (or finish() stops waiting for it).

    With a `prefix` (a job of several workers) only whole lines are written, each after the prefix, so that
    the workers' lines do not break into each other.
    """

    def __init__(self, pipe, log: SharedLog, prefix: bytes | None = None):
        self.pipe, self.log, self.prefix = pipe, log, prefix
        self._pending = b""
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
                break
            self._write(chunk)
        if self._pending:
            self._write(b"\n")

    def _write(self, chunk: bytes) -> None:
        if self.prefix is None:
            self.log.write(chunk)
            return
        lines = (self._pending + chunk).split(b"\n")
        self._pending = lines.pop()
        if len(self._pending) > LONGEST_LINE:
            lines.append(self._pending)
            self._pending = b""
        if lines:
            self.log.write(b"".join(self.prefix + line + b"\n" for line in lines))

    def finish(self, end: float) -> None:
        """Copy what is left until the pipe ends or the monotonic time `end`, then close the pipe.

        A process that left the trainer's group may still hold the pipe open; it is not waited for past `end`.
        """
        self._thread.join(max(end - time.monotonic(), 0))
        self._stopping.set()
        self._thread.join()
        self.pipe.close()


def trainer_outcome(returncode: int, output: str) -> JobStatus:
    if returncode == 0:
        return checked_result(JobStatus(JobState.complete, exit_code=0), output)
    info = (read_result(output) or {}).get("exception_info")
    if info:
        return JobStatus.trainer_failed(info, returncode)
    if returncode < 0:
        return JobStatus(JobState.failed, reason=FailureReason.Killed, exit_code=returncode,
                         message=f"the trainer exited with {exit_described(returncode)}")
    return JobStatus(JobState.failed, reason=FailureReason.Error, message=f"trainer exited with code {returncode}", exit_code=returncode)


def worker_failed(index: int, returncode: int, workers: int, output: str) -> JobStatus:
    """How a job ends when worker `index` exited with `returncode` != 0 (before any other, or killed).

    Worker 0's own failure, as its result.json records it, is told when it is worker 0's, or when it is an
    error in the spec or data (every worker finds it; the one seen first need not be worker 0).
    """
    if workers == 1:
        return trainer_outcome(returncode, output)
    info = (read_result(output) or {}).get("exception_info")
    if info and (index == 0 or returncode == EXIT_BAD_SPEC == info.get("exit_code")):
        return JobStatus.trainer_failed(info, returncode)
    return JobStatus(JobState.failed, reason=FailureReason.WorkerFailed, message=worker_exited(index, returncode), exit_code=returncode)


def first_failure(returncodes: list[int | None], ended: list[int] = ()) -> int | None:
    """The worker whose failure ends the job: one killed by a signal (the others' errors follow from it), else the
    first that failed on its own, else the first whose link to the others broke (exit 3). `ended` lists the
    workers in the order they were seen to end; "first" follows it, then the index."""
    seen = {index: place for place, index in enumerate(ended)}
    failed = sorted((i for i, code in enumerate(returncodes) if code not in (None, 0)), key=lambda i: (seen.get(i, len(seen)), i))
    killed = [i for i in failed if returncodes[i] < 0]
    own = [i for i in failed if returncodes[i] != EXIT_LINK_LOST]
    return (killed or own or failed or [None])[0]


class Supervisor:
    def __init__(self, directory: Path):
        self.directory = directory
        self.request = json.loads((directory / "request.json").read_text())
        self.cancelled = False
        self.processes: list[subprocess.Popen] = []
        self.pumps: list[OutputPump] = []
        self.ended: list[int] = []
        signal.signal(signal.SIGTERM, self._on_cancel)

    def _on_cancel(self, signum, frame):
        self.cancelled = True

    def run(self) -> None:
        request = self.request
        workers = int(request.get("workers", 1))
        work = self.directory / "work"
        (work / "tmp").mkdir(parents=True, exist_ok=True)
        argv = command(Binary(**request["binary"])) + [
            *request["arguments"],
            "--output", request["output"],
            "--job-id", request["job_id"],
            *request["trainer_args"],
        ]
        environment = with_prefixes({**os.environ, "TMPDIR": str(work / "tmp")}, request.get("data_prefixes"))
        port = free_base_port() if workers > 1 else None
        rendezvous_dir = tempfile.mkdtemp(prefix="rendezvous-", dir=work) if workers > 1 else None
        self.log = SharedLog(CappedLog(self.directory / LOG))
        for index in range(workers):
            own = worker_environment(index, workers, port, rendezvous_dir, request["deadline_seconds"], request.get("gpu", False))
            try:
                process = subprocess.Popen(argv, cwd=work, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                           env={**environment, **own}, start_new_session=True)
            except OSError as exc:
                return self._launch_failed(f"cannot start the trainer binary {request['binary']['path']}: {exc.strerror or exc}")
            self.processes.append(process)
            prefix = None if workers == 1 else (b"" if index == 0 else f"[worker {index}] ".encode())
            self.pumps.append(OutputPump(process.stdout, self.log, prefix))
        LocalStore(self.directory).write_text("trainer.pgid", "\n".join(str(p.pid) for p in self.processes))
        write_state(self.directory, JobStatus(JobState.running))
        started = time.monotonic()
        limit, deadline = request["memory_limit_bytes"], request["deadline_seconds"]
        lead = self.processes[0]
        while True:
            returncodes = self._poll()
            if first_failure(returncodes) is not None:
                if workers > 1:
                    returncodes = self._settled()
                failed = first_failure(returncodes, self.ended)
                self._stop()
                return self._finish(worker_failed(failed, returncodes[failed], workers, request["output"]))
            if all(code == 0 for code in returncodes):
                return self._finish(trainer_outcome(0, request["output"]))
            memory = rss_by_group({p.pid for p, code in zip(self.processes, returncodes) if code is None})
            for index, process in enumerate(self.processes):
                rss = memory.get(process.pid, 0)
                if rss > limit:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
                    self._stop()
                    which = f"worker {index}: " if workers > 1 else ""
                    return self._finish(JobStatus(JobState.failed, reason=FailureReason.OOMKilled, exit_code=137,
                                                  message=f"{which}resident memory {rss / 2**20:.0f} MiB exceeded the limit of {limit / 2**20:.0f} MiB"))
            if time.monotonic() - started > deadline:
                self._stop()
                return self._finish(JobStatus(JobState.failed, reason=FailureReason.DeadlineExceeded, exit_code=lead.returncode,
                                              message=f"the job ran longer than its deadline of {deadline:g} s"))
            if self.cancelled:
                self._stop()
                return self._finish(JobStatus(JobState.cancelled, reason=FailureReason.Cancelled, exit_code=lead.returncode))
            time.sleep(POLL_SECONDS)

    def _poll(self) -> list[int | None]:
        """Every worker's exit code (None while it runs), noting in `ended` the order they are seen to end."""
        codes = [p.poll() for p in self.processes]
        self.ended += [i for i, code in enumerate(codes) if code is not None and i not in self.ended]
        return codes

    def _settled(self) -> list[int | None]:
        """The workers' exit codes after a moment for them to end on their own once one failed: worker 0 to
        record an error every worker finds (SETTLE_SECONDS), and, while those that ended only lost their link
        (exit 3), the worker that broke it, which may take longer to end (GRACE_SECONDS)."""
        started = time.monotonic()
        while True:
            codes = self._poll()
            own = [code for code in codes if code not in (None, 0, EXIT_LINK_LOST)]
            waited = time.monotonic() - started
            if None not in codes or (own and (codes[0] is not None or waited >= SETTLE_SECONDS)) or waited >= GRACE_SECONDS:
                return codes
            time.sleep(POLL_SECONDS)

    def _stop(self) -> None:
        """Stop every worker's process group (those already ended too: their children may live on)."""
        stop_groups(self.processes, GRACE_SECONDS)

    def _finish(self, status: JobStatus) -> None:
        end = time.monotonic() + DRAIN_SECONDS
        for pump in self.pumps:
            pump.finish(end)
        self.log.close()
        write_state(self.directory, status)

    def _launch_failed(self, message: str) -> None:
        """A worker that cannot be started: the others are stopped, and the log gets the one line saying why."""
        self._stop()
        self.log.write(f"[railyard] {message}\n".encode())
        self._finish(JobStatus(JobState.failed, reason=FailureReason.LaunchFailed, message=message))


if __name__ == "__main__":
    os.umask(PRIVATE_UMASK)  # the workers inherit it: every file of the job is the service's user's alone
    Supervisor(Path(sys.argv[1])).run()
