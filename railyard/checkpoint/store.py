"""A run's checkpoints in its output store: written whole, found by identity, the newest two kept.

Each checkpoint is one object, `checkpoints/<loop>-<iteration>.ckpt`: a zip of
`checkpoint.json` (identity, loop, iteration, library, the loop's state) and the
library's own files (an XGBoost booster, a torch state dict). A local store
writes it under a temporary name and renames it; S3 makes the object visible
only once it is complete. So a crash while writing leaves the previous
checkpoint as the newest.

The loop is the n-th training loop of the train step (a workflow may fit more
than once: a search, then the final fit); loops before a checkpoint's run again.
"""

from __future__ import annotations

import io
import json
import logging
import re
import time
import zipfile
from dataclasses import dataclass, field

from railyard.checkpoint.identity import RunIdentity
from railyard.errors import RailyardError
from railyard.pipeline.progress_file import read_progress
from railyard.run_layout import CHECKPOINTS
from railyard.storage import Store

KEEP = 2
MANIFEST = "checkpoint.json"
NAME = re.compile(r"^(\d{3})-(\d{9})\.ckpt$")
log = logging.getLogger("railyard")


@dataclass
class Checkpoint:
    loop: int
    iteration: int  # iterations done, counted from the loop's start
    library: str
    state: dict = field(default_factory=dict)  # JSON: what the loop needs besides the files (its learning curve ...)
    files: dict[str, bytes] = field(default_factory=dict)
    location: str | None = None


@dataclass(frozen=True)
class Schedule:
    """When a loop writes a checkpoint: every `every_iterations` (default: a tenth of the loop) or every
    `every_seconds`, whichever comes first."""

    every_iterations: int | None = None
    every_seconds: float = 300.0

    def interval(self, total: int | None) -> int | None:
        if self.every_iterations is not None:
            return self.every_iterations
        return max(1, total // 10) if total else None


class Checkpoints:
    """The checkpoints of one run: `save` as the loop goes, `newest` to resume from (None with `resume` off)."""

    def __init__(self, store: Store, identity: RunIdentity, schedule: Schedule = Schedule(), resume: bool = True,
                 writes: bool = True):
        self.store = store
        self.writes = writes  # False on workers but the first of a job of several: they all hold worker 0's model
        self.identity = identity
        self.schedule = schedule
        self.resume = resume
        self.written = 0
        self.seconds = 0.0
        self.resumed: dict | None = None
        self.loops = 0  # training loops that took part (each looks for its checkpoint as it starts)
        self.not_checkpointed: str | None = None
        progress = read_progress(store.uri) if resume else None
        self._reached = int(progress["iteration"]) if progress and progress.get("step") == "train" and progress.get("iteration") else None
        self._newest: Checkpoint | None | bool = False  # False: not looked for yet

    def save(self, checkpoint: Checkpoint) -> str | None:
        """Write `checkpoint`, keeping the newest KEEP; where this worker writes none, nothing (None)."""
        if not self.writes:
            return None
        started = time.monotonic()
        manifest = {"identity": self.identity.as_dict(), "loop": checkpoint.loop, "iteration": checkpoint.iteration,
                    "library": checkpoint.library, "state": checkpoint.state}
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
            archive.writestr(MANIFEST, json.dumps(manifest))
            for name, data in checkpoint.files.items():
                archive.writestr(name, data)
        name = f"{CHECKPOINTS}/{checkpoint.loop:03d}-{checkpoint.iteration:09d}.ckpt"
        location = self.store.write_bytes(name, buffer.getvalue())
        for older in self._names()[KEEP:]:
            self.store.delete(f"{CHECKPOINTS}/{older}")
        self.written += 1
        self.seconds += time.monotonic() - started
        return location

    def newest(self) -> Checkpoint | None:
        """The newest checkpoint of this run's identity; others are logged and never used. A loop asks as it starts."""
        self.loops += 1
        if self._newest is False:
            self._newest = self._find() if self.resume else None
        return self._newest

    def resuming(self, checkpoint: Checkpoint, exact: bool, why_not: str | None) -> None:
        """Record (for result.json) and log that the loop resumes from `checkpoint`."""
        redone = max(self._reached - checkpoint.iteration, 0) if self._reached is not None else None
        self.resumed = {"loop": checkpoint.loop, "from_iteration": checkpoint.iteration, "checkpoint": checkpoint.location,
                        "redone_iterations": redone, "exact": exact, "not_exact_because": why_not}
        lost = f"; {redone} iterations of the last attempt are done again" if redone is not None else ""
        log.info(f"[railyard] resuming training from iteration {checkpoint.iteration} ({checkpoint.location}){lost}"
                 + ("" if exact else f"; the model may differ from an uninterrupted run's: {why_not}"))

    def clear(self) -> None:
        """Remove every checkpoint once the run has its result: a finished run's output holds its model, not its drafts."""
        for name in self._names() if self.writes else []:
            self.store.delete(f"{CHECKPOINTS}/{name}")

    def none_taken(self, workflow: str) -> None:
        """Say (log, result.json) that the train step ran no loop that checkpoints: a retry trains from the start."""
        self.not_checkpointed = (f"{workflow} trains without a loop that takes part in checkpoints (XGBoost's, or "
                                 "self.checkpoints.loop); a retry trains from the start")
        log.info(f"[railyard] {self.not_checkpointed}")

    def summary(self) -> dict:
        found = {"written": self.written, "seconds": round(self.seconds, 3), "resumed": self.resumed}
        return found if self.not_checkpointed is None else {**found, "not_checkpointed": self.not_checkpointed}

    def _names(self) -> list[str]:
        """Checkpoint object names, newest first."""
        try:
            names = [path.rsplit("/", 1)[-1] for path in self.store.list(f"{CHECKPOINTS}/")]
        except RailyardError:
            return []
        return sorted((n for n in names if NAME.match(n)), reverse=True)

    def _find(self) -> Checkpoint | None:
        for name in self._names():
            location = self.store.url(f"{CHECKPOINTS}/{name}")
            try:
                with zipfile.ZipFile(io.BytesIO(self.store.read_bytes(f"{CHECKPOINTS}/{name}"))) as archive:
                    manifest = json.loads(archive.read(MANIFEST))
                    differ = self.identity.differences(manifest.get("identity") or {})
                    if differ:
                        log.info(f"[railyard] not resuming from {location}: it was written by a run with another "
                                 f"{', '.join(differ)}; training starts over")
                        continue
                    files = {n: archive.read(n) for n in archive.namelist() if n != MANIFEST}
                return Checkpoint(loop=int(manifest["loop"]), iteration=int(manifest["iteration"]),
                                  library=str(manifest["library"]), state=manifest.get("state") or {}, files=files,
                                  location=location)
            except (RailyardError, zipfile.BadZipFile, KeyError, ValueError, TypeError) as exc:
                log.warning(f"[railyard] warning: ignoring unreadable checkpoint {location}: {exc}")
        return None
