"""A job to launch (training or explanation), and the states and failure reasons every executor reports.

States: queued → running → complete | failed | cancelled. A failed job has a
reason taken from where it failed (`railyard.states.FailureReason`), or the
trainer's own `exception_info` type (for example `DataError`) when it exited on its own.
"""

from __future__ import annotations

import abc
import enum
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass

from railyard.errors import EXIT_LINK_LOST, RailyardError, UserError
from railyard.result import is_complete, read_result
from railyard.spec import TrainingSpec
from railyard.states import FailureReason, JobState
from railyard.launch.resources import LaunchConfig


LOG_PAGE_BYTES = 1 << 20  # the most one read of a log returns
WATCH_SECONDS = 0.2


@dataclass(frozen=True)
class JobStatus:
    state: JobState
    reason: str | None = None
    message: str | None = None
    exit_code: int | None = None
    exception_info: dict | None = None

    @classmethod
    def trainer_failed(cls, exception_info: dict, exit_code: int | None) -> "JobStatus":
        """A job the trainer itself failed, reported with its exception_info."""
        return cls(JobState.failed, reason=exception_info["type"], message=exception_info["message"],
                   exit_code=exit_code, exception_info=exception_info)

    def describe(self) -> str:
        parts = [self.state.value]
        if self.reason:
            parts.append(self.reason)
        if self.message:
            parts.append(self.message)
        return ": ".join(parts)


class UnknownJob(RailyardError):
    """The executor has no record of this job id: never submitted here, or its record is gone."""


class StillRunning(UserError):
    """A job asked to start again still runs (another replica started it again already, say)."""


def exit_described(code: int) -> str:
    """An exit code as a person reads it: `-9 (SIGKILL)`, `2`."""
    return f"{code} ({signal.Signals(-code).name})" if code < 0 and -code in signal.valid_signals() else str(code)


def worker_exited(index: int, code: int) -> str:
    """How a job of several workers names the worker whose exit failed it: `worker 2 exited with -9 (SIGKILL)`."""
    how = exit_described(code)
    if code == EXIT_LINK_LOST:
        how += ", its link to the other workers lost; no worker failed on its own"
    return f"worker {index} exited with {how}"


def checked_result(status: JobStatus, output: str) -> JobStatus:
    """A `complete` status only when the job's result.json says complete too; otherwise failed with NoResult."""
    if status.state is not JobState.complete or is_complete(read_result(output)):
        return status
    return JobStatus(JobState.failed, reason=FailureReason.NoResult, exit_code=0,
                     message=f"the trainer exited 0 without writing a complete result.json to {output}")


@dataclass(frozen=True)
class Binary:
    """A trainer .pex: where it is and its sha256 (its identity in the artifact store)."""

    path: str
    sha256: str
    target: str | None = None


class JobKind(str, enum.Enum):
    """What a job does with its trainer binary: train a model from a spec, or explain a trained model's scores."""

    training = "training"
    explanation = "explanation"


@dataclass(frozen=True)
class Explanation:
    """What an explanation job explains: a model, by the location of its artifact (named by its id, so the
    trainer verifies the bytes against it), and the rows to explain."""

    model: str
    data: str
    rows: int | None = None
    key_columns: tuple[str, ...] = ()

    def arguments(self) -> list[str]:
        """The trainer's arguments in place of `--spec` (`--name=value`: no value is read as an option)."""
        arguments = ["--explain", f"--model={self.model}", f"--data={self.data}"]
        if self.rows is not None:
            arguments.append(f"--rows={self.rows}")
        return arguments + [f"--key={column}" for column in self.key_columns]


@dataclass(frozen=True)
class JobRequest:
    """A job to launch. A training job trains `spec`; an explanation job (`explanation` set) runs the binary that
    trained the model with `Explanation.arguments()`, and `spec` is the model's training spec (sizing, labels).
    `data_prefixes`: where every process of the job may read data (RAILYARD_DATA_PREFIXES); None: anywhere."""

    job_id: str
    spec: TrainingSpec
    binary: Binary
    output: str
    git_commit: str = "unknown"
    trainer_args: tuple[str, ...] = ()
    explanation: Explanation | None = None
    data_prefixes: tuple[str, ...] | None = None
    memory_request_bytes: int | None = None  # sized from the model's earlier runs (railyard.api.sizing); None: the class's

    @property
    def kind(self) -> JobKind:
        return JobKind.training if self.explanation is None else JobKind.explanation

    @property
    def workers(self) -> int:
        """How many trainer workers the job runs: the spec's `workers` for training, one for an explanation."""
        return self.spec.workers if self.kind is JobKind.training else 1


class Executor(abc.ABC):
    """Runs jobs. One real implementation per backend: local processes, Kubernetes Jobs.

    Every backend reports the same states and reasons (see the module docstring). A
    job is `complete` only with a complete result.json (`checked_result`). `status`,
    `logs`, `read_log` and `cancel` of a job id the executor has no record of raise
    `UnknownJob`; the API answers it with 404.
    """

    # The most workers one job may have on this backend; None: as many as the spec's resource class allows.
    max_workers: int | None = None
    config: LaunchConfig | None = None  # the resource classes; None: the backend checks none

    def retries_itself(self, workers: int) -> bool:
        """Whether the backend starts the trainer of a job of `workers` again by itself when the infrastructure
        ends it (Kubernetes, a job of one worker); else the service does (api/retries.py)."""
        return False

    def admit(self, spec: TrainingSpec, workers: int | None = None) -> None:
        """The one check of what this backend can run, made before a job is queued and again as it starts: a
        UserError whose message begins with the spec's field when it has more workers than the backend runs, or a
        compute resource its launch config has no class for. `workers`: the job's, where not the spec's."""
        workers = spec.workers if workers is None else workers
        if self.max_workers is not None and workers > self.max_workers:
            raise UserError(f"workers: the {type(self).__name__} runs at most {self.max_workers} workers of a job, "
                            f"got {workers}; use fewer, or a service on Kubernetes")
        if self.config is not None:
            self.config.resource_class(spec.compute_resource.value)

    @abc.abstractmethod
    def output_uri(self, job_id: str) -> str:
        """Where the job writes its outputs (result.json, model/, scores, labels, trainer.log)."""

    @abc.abstractmethod
    def submit(self, job: JobRequest) -> None:
        """Start the job; returns once it is queued."""

    def retry(self, job: JobRequest) -> None:
        """Start a job whose run ended again, with the same id and output (its trainer resumes from its
        checkpoints); what the ended run left of its own (its log) is kept aside."""
        raise UserError(f"the {type(self).__name__} does not start jobs again")

    @abc.abstractmethod
    def status(self, job_id: str) -> JobStatus:
        """The job's current status."""

    @abc.abstractmethod
    def logs(self, job_id: str) -> str: ...

    @abc.abstractmethod
    def read_log(self, job_id: str, offset: int = 0, limit: int = LOG_PAGE_BYTES) -> tuple[bytes, int]:
        """At most `limit` bytes of the job's log from byte `offset`, and the offset the next read starts at."""

    @abc.abstractmethod
    def cancel(self, job_id: str) -> None:
        """Stop the job and everything it started; its state becomes cancelled. A finished job is left as it is."""

    def watch(self, job_id: str, timeout_seconds: float | None = None) -> Iterator[JobStatus]:
        """Each new status until the job finishes (or the timeout passes), by asking `status` every WATCH_SECONDS."""
        deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
        last = None
        while deadline is None or time.monotonic() < deadline:
            status = self.status(job_id)
            if status != last:
                last = status
                yield status
            if status.state.finished:
                return
            time.sleep(WATCH_SECONDS)
