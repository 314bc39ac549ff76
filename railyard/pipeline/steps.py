"""Measure each step: wall time, rows in and out, and peak resident memory.

Peak memory per step uses Linux's resettable high-water mark: writing 5 to
/proc/self/clear_refs resets VmHWM, which is read back when the step ends.
Where that is unavailable the process-wide peak (ru_maxrss) is reported.
"""

from __future__ import annotations

import re
import resource
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Callable


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_bytes() -> int:
    """This process's peak resident memory since it started or since the last reset."""
    try:
        with open("/proc/self/status") as f:
            match = re.search(r"VmHWM:\s+(\d+) kB", f.read())
        if match:
            return int(match.group(1)) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@dataclass
class StepRecord:
    name: str
    wall_seconds: float = 0.0
    rows_in: int | None = None
    rows_out: int | None = None
    peak_memory_bytes: int = 0
    details: dict = field(default_factory=dict)
    # Of rows_in and rows_out, what every worker of a job of several counts alike (sources read whole by each).
    same_on_every_worker: tuple[int, int] = (0, 0)

    def as_dict(self) -> dict:
        found = asdict(self)
        del found["same_on_every_worker"]
        return found

    def summary(self) -> str:
        counts = [f"{n:,}" for n in (self.rows_in, self.rows_out) if n is not None]
        rows = f"{' → '.join(counts)} rows, " if counts else ""
        extra = "".join(f", {k} {v}" for k, v in self.details.items())
        return f"{self.name}: {rows}{self.wall_seconds:.2f}s, peak {self.peak_memory_bytes / 2**20:.0f} MiB{extra}"


class StepRecorder:
    """Collects StepRecords and reports each finished step through `progress`."""

    def __init__(self, progress: Callable[[str], None] | None = None):
        self.steps: list[StepRecord] = []
        self.progress = progress or (lambda line: print(line, file=sys.stderr, flush=True))

    @contextmanager
    def step(self, name: str):
        record = StepRecord(name)
        _reset_peak()
        start = time.perf_counter()
        try:
            yield record
        finally:
            record.wall_seconds = round(time.perf_counter() - start, 4)
            record.peak_memory_bytes = peak_rss_bytes()
            self.steps.append(record)
            self.progress(f"[railyard] {record.summary()}")

    def as_list(self) -> list[dict]:
        return [s.as_dict() for s in self.steps]
