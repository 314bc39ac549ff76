"""Sizing a run from its model's earlier runs, so that users stop guessing the compute resource.

Every complete training run records its peak resident memory (the highest of its steps', as the trainer
measures them) and the rows its load step kept. A dry run fits the newest runs of the same owner's model:
with two or more row counts, a line (memory = fixed + per row × rows, the fixed part being the libraries and
the per-row part the data); with one, memory in proportion to rows, which errs large. It adds a quarter for
headroom and names the smallest class, among the spec's and the larger ones the launch config names after it,
whose memory limit holds the estimate. The service dispatches a job with its memory request set to the
estimate at the newest run's rows (within its class's limit): Kubernetes places it by what it will use.
"""

from __future__ import annotations

from dataclasses import dataclass

from railyard.api.store.models import Job
from railyard.launch.resources import LaunchConfig

RUNS = 5  # the newest runs a fit uses
HEADROOM = 1.25
GIB = 2**30


@dataclass(frozen=True)
class Sizing:
    estimate_bytes: int
    resource_class: str | None  # None: no class holds the estimate
    summary: str


def fit(points: list[tuple[int, int]], rows: int) -> float:
    """Memory for `rows` from (rows, peak bytes) points: a least-squares line where the rows differ, else in proportion."""
    if len({r for r, _ in points}) < 2:
        r, peak = max(points)
        return peak * rows / r
    n = len(points)
    mean_r, mean_p = sum(r for r, _ in points) / n, sum(p for _, p in points) / n
    slope = sum((r - mean_r) * (p - mean_p) for r, p in points) / sum((r - mean_r) ** 2 for r, _ in points)
    return mean_p + max(slope, 0.0) * (rows - mean_r)


def estimate(runs: list[Job], rows: int | None = None) -> int:
    """The memory a run of `rows` rows (default: the newest run's) should need, headroom included."""
    points = [(job.rows_loaded, job.peak_memory_bytes) for job in runs]
    return int(fit(points, points[0][0] if rows is None else rows) * HEADROOM)


def memory_request(runs: list[Job]) -> int | None:
    """The memory a run of the model should ask its node for (the executor keeps it within the class's limit)."""
    return estimate(runs) if runs else None


MAX_MEASURED = 1 << 50  # bytes or rows: a PiB, far above any run, far below what a BIGINT holds


def measured(result: dict) -> tuple[int | None, int | None]:
    """A complete training run's highest step peak and its load step's rows, from its result.json; written by the
    trainer's process, which runs the user's code, so read typed and bounded before it is stored."""
    block = result.get("result") if isinstance(result.get("result"), dict) else {}
    steps = [s for s in block.get("steps") or [] if isinstance(s, dict)] if isinstance(block.get("steps"), list) else []

    def count(value) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and 0 < value < MAX_MEASURED

    peaks = [s["peak_memory_bytes"] for s in steps if count(s.get("peak_memory_bytes"))]
    rows = [s["rows_out"] for s in steps if s.get("name") == "load" and count(s.get("rows_out"))]
    if block.get("kind") != "training" or not peaks or not rows:
        return None, None
    return max(peaks), rows[0]


def classes_from(name: str, config: LaunchConfig) -> list[str]:
    """`name`, then each larger class the launch config names after it."""
    chain = [name]
    while (larger := config.resource_classes[chain[-1]].larger) is not None and larger not in chain:
        chain.append(larger)
    return chain


def size(runs: list[Job], rows: int, compute_resource: str, config: LaunchConfig) -> Sizing | None:
    """The estimate for a run of `rows` rows from the model's measured `runs`; None without any."""
    if not runs or compute_resource not in config.resource_classes:
        return None
    needed = estimate(runs, rows)
    fitting = [c for c in classes_from(compute_resource, config) if config.resource_classes[c].memory_limit_bytes >= needed]
    chosen = fitting[0] if fitting else None
    top = max(runs, key=lambda job: job.peak_memory_bytes)
    last = f"last {len(runs)} runs" if len(runs) > 1 else "last run"
    where = f"class {chosen}" if chosen else f"more than any class from {compute_resource} allows"
    return Sizing(needed, chosen, f"the {last} of this model peaked at {top.peak_memory_bytes / GIB:.1f} GiB on "
                                  f"{top.rows_loaded:,} rows; this run has {rows:,} rows → about {needed / GIB:.1f} GiB → {where}")
