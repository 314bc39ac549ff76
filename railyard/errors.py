"""The errors Railyard reports to its users.

`UserError` and its subclasses mean the request itself is wrong (bad spec, data
that does not fit the spec): the trainer exits with code 2 and the message is
meant to be read as is. `TrainingError` means the workflow failed while
training: exit code 1. `WorkerLinkLost` means a worker of a job of several lost
its link to another: exit code 3, so that launchers tell the other worker's own
failure first. A trainer stopped by SIGTERM while a fit that checkpoints was running
writes a checkpoint and exits with 75 (EX_TEMPFAIL: pre-empted, resumable: the
same command resumes); stopped anywhere else, 143. Library exceptions are wrapped at the boundary that
raised them so that every message names the field, column or value at fault.
"""

EXIT_OK = 0
EXIT_TRAINING_FAILED = 1
EXIT_BAD_SPEC = 2
EXIT_LINK_LOST = 3
EXIT_PREEMPTED = 75
EXIT_TERMINATED = 128 + 15


class RailyardError(Exception):
    """Base class of every error Railyard raises on purpose."""

    exit_code = EXIT_TRAINING_FAILED


class UserError(RailyardError):
    """The request cannot be run as written."""

    exit_code = EXIT_BAD_SPEC


class SpecError(UserError):
    """The training spec is malformed: unknown keys, wrong types, bad values."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


class DataError(UserError):
    """The spec is well formed but does not fit the data it names."""


class WorkflowNotFound(UserError):
    """No workflow class has the requested name."""


class StorageError(RailyardError):
    """Reading or writing a local path or an S3 object failed."""


class ModelFormatError(RailyardError):
    """A model cannot be serialized, or an artifact cannot be loaded back."""


class TrainingError(RailyardError):
    """The workflow's own code failed while training or scoring."""


class WorkerLinkLost(RailyardError):
    """A worker's exchange with the job's other workers broke: another worker failed or left first."""

    exit_code = EXIT_LINK_LOST
