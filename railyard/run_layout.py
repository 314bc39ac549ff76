"""RunLayout: where a run writes, and the name of every file of its output, for the trainer, every executor
and the service.

    <runs>/<job-id>/                   RunLayout(runs, job_id).output; <runs> is the artifact root's runs/
                                       (RunLayout.under_root), a service's --artifacts, or a launch config's
                                       artifacts + runs/
        result.json                    RESULT: the run's state, written last when complete
        trainer.log                    LOG
        progress.json                  PROGRESS: where training is, while it runs
        checkpoints/<loop>-<iter>.ckpt CHECKPOINTS: while unfinished (railyard.checkpoint), worker 0's
        model/<model id>               MODEL
        workers/<i>/                   WORKERS: worker i's own log and result, in a job of several workers
        metrics.json, scores.tsv, labels.tsv, charts.json, report.html
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

RESULT = "result.json"
LOG = "trainer.log"
PROGRESS = "progress.json"
CHECKPOINTS = "checkpoints"
MODEL = "model"
WORKERS = "workers"


def _join(base: str, *names: str) -> str:
    """`names` under `base`: a URI stays a URI, a relative path stays relative (the trainer resolves it where it runs)."""
    return "/".join([base.rstrip("/"), *names]) if "://" in base else str(Path(base, *names))


@dataclass(frozen=True)
class RunLayout:
    runs: str  # a directory or URI holding one folder per run
    job_id: str

    @classmethod
    def under_root(cls, root: str, job_id: str) -> "RunLayout":
        """The run under an artifact root's runs/ (a directory or an s3:// prefix)."""
        return cls(_join(root, "runs"), job_id)

    @property
    def output(self) -> str:
        return _join(self.runs, self.job_id)

    def path(self, *names: str) -> str:
        return output_file(self.output, *names)


def worker_output(output: str, rank: int) -> str:
    """Where worker `rank` of the job whose output is `output` writes its own files: worker 0, the job's output."""
    return output if rank == 0 else _join(output, WORKERS, str(rank))


def output_file(output: str, *names: str) -> str:
    """A file of the run whose output is `output` (a job's recorded output, say)."""
    return _join(output, *names)
