"""A workflow's own training loop taking part in checkpoints: `self.checkpoints` inside `Workflow.train`.

    with self.checkpoints.loop(total=epochs) as loop:
        if loop.files:                                  # resumed: the files the last checkpoint saved
            restore_torch_state(loop.files["state.pt"], model=model, optimizer=optimizer, generator=generator)
        for epoch in range(loop.start, epochs):
            ...                                         # one epoch, reported to self.progress as usual
            loop.done(epoch + 1, lambda: {"state.pt": torch_state(model=model, optimizer=optimizer, generator=generator)})

`done` writes a checkpoint when the run's schedule says so, and when SIGTERM asked
for one (then it stops the run: exit 75). Inside the `with`, SIGTERM waits for
the next `done`; the learning curve so far is saved with each checkpoint and put
back on a resume. With no checkpoints for this run (turned off in the spec),
`loop.start` is 0, `done` does nothing, and SIGTERM stops the run at once.

In a job of several workers every worker's `done` takes part in each
checkpoint: the workers agree on whether one is due (or asked for by SIGTERM on
any of them, which then stops them all), each gives its files (its own random
state: the shuffling differs per worker), and worker 0 writes them all in one
checkpoint, as `rank-<i>/<name>`; on a resume each worker gets its own back.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import contextmanager, nullcontext

from railyard.checkpoint import preemption
from railyard.checkpoint.store import Checkpoint, Checkpoints

LIBRARY = "workflow"


class Loop:
    """One loop's place: `start` (iterations already done), `files` (what the checkpoint resumed from saved)."""

    def __init__(self, checkpoints: Checkpoints | None, reporter, index: int, total: int, unit: str, exchange=None):
        self.checkpoints = checkpoints
        self.exchange = exchange  # the job's workers (railyard.distributed.gather.Exchange), or None for one
        self.reporter = reporter
        self.index = index
        self.total = total
        self.unit = unit
        self.start = 0
        self.files: dict[str, bytes] = {}
        self._saved_at = time.monotonic()

    def resume(self, exact: bool, why_not: str | None) -> None:
        found = self.checkpoints.newest() if self.checkpoints is not None else None
        if found is None or found.loop != self.index or found.library != LIBRARY:
            return
        self.start, self.files = found.iteration, found.files
        if self.exchange is not None:
            mine = f"rank-{self.exchange.rank}/"
            self.files = {name.removeprefix(mine): data for name, data in found.files.items() if name.startswith(mine)}
        self.checkpoints.resuming(found, exact=exact, why_not=why_not)
        if self.reporter is not None:
            self.reporter.begin(total=self.total, unit=self.unit)
            self.reporter.restore(found.state.get("curve") or [])

    def done(self, iteration: int, save: Callable[[], dict[str, bytes]]) -> None:
        """Iteration `iteration` (from 1) is done; `save()` gives the files a resume needs, asked only when due."""
        if self.checkpoints is None:
            return
        asked = preemption.asked()
        interval = self.checkpoints.schedule.interval(self.total)
        due = (interval is not None and iteration % interval == 0
               or time.monotonic() - self._saved_at >= self.checkpoints.schedule.every_seconds)
        if self.exchange is not None:  # every worker takes part in a checkpoint, or none does
            votes = self.exchange.allgather((due, asked))
            due, asked = any(d for d, _ in votes), any(a for _, a in votes)
        if due or asked:
            files = save()
            if self.exchange is not None:
                gathered = self.exchange.gather(files) or []  # worker 0's list; the others write nothing
                files = {f"rank-{rank}/{name}": data for rank, part in enumerate(gathered) for name, data in part.items()}
            curve = (self.reporter.learning_curve() or {}).get("points", []) if self.reporter is not None else []
            self.checkpoints.save(Checkpoint(loop=self.index, iteration=iteration, library=LIBRARY,
                                             state={"curve": curve}, files=files))
            self._saved_at = time.monotonic()
        if asked:
            raise preemption.Preempted(f"stopped by SIGTERM at {self.unit} {iteration}, after writing a checkpoint; "
                                       "the same command resumes from it")


class LoopCheckpoints:
    """`self.checkpoints` of a workflow: its loops, in the order they run, each resumable from its checkpoints."""

    def __init__(self, checkpoints: Checkpoints | None, reporter=None, device: str = "cpu", exchange=None):
        self.checkpoints = checkpoints
        self.reporter = reporter
        self.device = device
        self.exchange = exchange
        self._loops = 0

    @contextmanager
    def loop(self, total: int, unit: str = "epoch"):
        loop = Loop(self.checkpoints, self.reporter, self._loops, total, unit, self.exchange)
        self._loops += 1
        on_gpu = self.device.startswith("cuda")
        loop.resume(exact=not on_gpu, why_not="GPU kernels sum in no fixed order" if on_gpu else None)
        with preemption.checkpointing() if self.checkpoints is not None else nullcontext():
            yield loop
