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


def memory_request(runs: list[Job], rows: int | None = None) -> int | None:
    """The memory a run of the model should ask its node for: the estimate at `rows` (default: the newest run's),
    headroom included; the executor keeps it within the class's limit."""
    if not runs:
        return None
    points = [(job.rows_loaded, job.peak_memory_bytes) for job in runs]
    return int(fit(points, rows if rows is not None else points[0][0]) * HEADROOM)


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
    points = [(job.rows_loaded, job.peak_memory_bytes) for job in runs]
    estimate = int(fit(points, rows) * HEADROOM)
    fitting = [c for c in classes_from(compute_resource, config) if config.resource_classes[c].memory_limit_bytes >= estimate]
    chosen = fitting[0] if fitting else None
    top_rows, top_peak = max(points, key=lambda p: p[1])
    measured = (f"the last {len(points)} runs of this model peaked at {top_peak / GIB:.1f} GiB on {top_rows:,} rows"
                if len(points) > 1 else f"the last run of this model peaked at {top_peak / GIB:.1f} GiB on {top_rows:,} rows")
    where = f"class {chosen}" if chosen else f"more than any class from {compute_resource} allows"
    return Sizing(estimate, chosen, f"{measured}; this run has {rows:,} rows → about {estimate / GIB:.1f} GiB → {where}")
