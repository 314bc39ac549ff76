"""One job run in the trainer process, whatever its kind: output location, log, result.json, SIGTERM.

Training (`railyard.trainer`) and explanation jobs (`railyard.explain`) both run through
`JobRun.run`: progress lines go to stderr and to `trainer.log` (capped, see
`railyard.capped_log`), result.json says `running` when the work starts, then `complete` only
after the work returned and the log is complete at its final location, or `failed` with
`exception_info`. SIGTERM (a cancelled or pre-empted job) stops the work as `Terminated`,
which workflow code cannot catch as an Exception; inside a training loop that checkpoints, it
asks the loop to write a checkpoint and stop (`railyard.checkpoint.preemption`).

In a job of several workers only worker 0 writes result.json; worker i > 0 writes its log and
whatever else it writes under `workers/<i>/` of the output location.
"""

from __future__ import annotations

import _thread
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Callable

from railyard.buildinfo import build_info
from railyard.capped_log import CappedLogHandler
from railyard.checkpoint import preemption
from railyard.distributed.env import WorkerEnv
from railyard.errors import EXIT_OK, EXIT_TERMINATED, EXIT_TRAINING_FAILED, RailyardError, UserError
from railyard.pipeline.steps import StepRecorder
from railyard.result import COMPLETE, FAILED, RUNNING, ResultFile
from railyard.run_layout import LOG, worker_output
from railyard.storage import LocalStore, open_store
from railyard.storage.local import private_dirs

log = logging.getLogger("railyard")


class Terminated(BaseException):
    """The trainer received SIGTERM (a cancelled or pre-empted job); not caught by workflow error handling."""

    exit_code = EXIT_TERMINATED


REDELIVER_SECONDS = 1.0
_redelivering = threading.Lock()


def _on_sigterm(signum, frame):
    if preemption.ask():
        return
    if _redelivering.acquire(blocking=False):
        threading.Thread(target=_redeliver, name="sigterm-again", daemon=True).start()
    raise Terminated("terminated by SIGTERM")


def _redeliver() -> None:
    """Raised where Python swallows exceptions (a finalizer, a weakref callback: "Exception ignored in ..."), a
    Terminated would be lost and the work go on. Until the run has taken it, and so set SIGTERM aside, it is
    raised again every REDELIVER_SECONDS."""
    try:
        while True:
            time.sleep(REDELIVER_SECONDS)
            if signal.getsignal(signal.SIGTERM) is not _on_sigterm:
                return
            _thread.interrupt_main(signal.SIGTERM)
    finally:
        _redelivering.release()


def resolve(path: str) -> str:
    """Relative paths are relative to where the user ran the command (also under `bazel run`)."""
    base = os.environ.get("BUILD_WORKING_DIRECTORY")
    if base and "://" not in path and not os.path.isabs(path):
        return os.path.join(base, path)
    return path


def exception_info(exc: BaseException, step: str | None) -> dict:
    info = {
        "type": type(exc).__name__,
        "message": str(exc),
        "exit_code": getattr(exc, "exit_code", EXIT_TRAINING_FAILED),
        "step": step,
    }
    if not isinstance(exc, (UserError, preemption.Preempted)):
        info["traceback"] = "".join(traceback.format_exception(exc))
    return info


def _setup_logging(log_path: Path) -> CappedLogHandler:
    log.setLevel(logging.INFO)
    log.propagate = False
    for handler in list(log.handlers):
        log.removeHandler(handler)
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(logging.Formatter("%(message)s"))
    file_handler = CappedLogHandler(log_path)
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(console)
    log.addHandler(file_handler)
    return file_handler


class JobRun:
    """The output store, log and result file of one job; `run` runs its work between `running` and the end."""

    def __init__(self, job_id: str, output: str, spec_hash: str | None = None, env: WorkerEnv | None = None):
        self.job_id = job_id
        self.env = env or WorkerEnv()
        self.job_store = open_store(output)  # the job's output: its checkpoints, whichever worker this is
        self.store = open_store(worker_output(output, self.env.rank))
        self._local = isinstance(self.store, LocalStore)
        self._log_dir = Path(self.store.root) if self._local else Path(tempfile.mkdtemp(prefix="railyard-log-"))
        private_dirs(self._log_dir)
        self._handler = _setup_logging(self._log_dir / LOG)
        self.result_file = ResultFile(self.store, job_id, self.store.url(LOG), build_info(), spec_hash)
        self.recorder = StepRecorder(progress=log.info)

    @property
    def writes_result(self) -> bool:
        return self.env.rank == 0

    def running(self, result: dict | None = None) -> None:
        if self.writes_result:
            self.result_file.write(RUNNING, result=result)

    def run(self, work: Callable[[], dict], failed: Callable[[], dict]) -> int:
        """Run `work` (which calls `running` once it starts) and record its result, or the failure with
        `failed()` as the result block; the exit code: 0, the error's own, 1, 143 for SIGTERM, or 75 for SIGTERM
        taken by a loop that wrote a checkpoint."""
        signal.signal(signal.SIGTERM, _on_sigterm)
        exit_code = EXIT_OK
        try:
            result = work()
            if self.writes_result:
                log.info(f"[railyard] result: {self.store.url('result.json')}")
            self._publish_log()
            if self.writes_result:
                self.result_file.write(COMPLETE, result=result)
        except (Exception, Terminated, preemption.Preempted) as exc:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not stop the failure being recorded
            known = (RailyardError, Terminated, preemption.Preempted)
            exit_code = exc.exit_code if isinstance(exc, known) else EXIT_TRAINING_FAILED
            steps = self.recorder.steps
            if isinstance(exc, preemption.Preempted):
                log.info(f"[railyard] pre-empted: {exc}")
            elif isinstance(exc, UserError):
                log.error(f"[railyard] failed: {exc}")
            else:
                log.error(f"[railyard] failed: {type(exc).__name__}: {exc}")
                log.error("".join(traceback.format_exception(exc)))
            self._publish_log()
            if self.writes_result:
                self.result_file.write(FAILED, result={**failed(), "steps": self.recorder.as_list()},
                                       exception_info=exception_info(exc, steps[-1].name if steps else None))
        finally:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            log.removeHandler(self._handler)
            self._handler.close()
            if not self._local:
                shutil.rmtree(self._log_dir, ignore_errors=True)
        return exit_code

    def _publish_log(self) -> None:
        """Make the log complete at its final location before result.json says the job ended."""
        self._handler.finish()
        if not self._local:
            self.store.put_file(LOG, self._log_dir / LOG)
