"""What the workers of one job share: counts summed, category values united, holdout rows gathered.

Each function takes an exchange (an object with `allgather(value) -> list`, one value per rank in
rank order, and `gather(value)`, the same list on rank 0 only) and is called by every worker at the
same point, so all of them reach the same decision: a check that fails on summed counts fails on
every worker.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import pandas as pd


class Exchange(Protocol):
    rank: int
    world_size: int

    def allgather(self, value: Any) -> list[Any]: ...

    def gather(self, value: Any) -> list[Any] | None: ...


def summed(exchange: Exchange, count: int) -> int:
    return int(sum(exchange.allgather(int(count))))


def whole_job_steps(exchange: Exchange, steps: list) -> None:
    """Rank 0's step records (StepRecord) become the whole job's: each count summed over every worker's record of
    the same step, what every worker counts alike (`same_on_every_worker`) counted once."""
    counts = exchange.gather([(s.rows_in, s.rows_out) for s in steps])
    if counts is None:
        return
    for index, step in enumerate(steps):
        ins, outs = zip(*(worker[index] for worker in counts))
        same_in, same_out = step.same_on_every_worker
        step.rows_in = None if None in ins else sum(ins) - same_in * (len(ins) - 1)
        step.rows_out = None if None in outs else sum(outs) - same_out * (len(outs) - 1)


def united_values(exchange: Exchange, values: dict[str, list]) -> dict[str, list]:
    """Per column, the sorted union of every worker's values (None dropped)."""
    merged: dict[str, set] = {}
    for shared in exchange.allgather(values):
        for column, column_values in shared.items():
            merged.setdefault(column, set()).update(v for v in column_values if v is not None)
    return {column: sorted(found) for column, found in merged.items()}


def holdout_on_rank_0(exchange: Exchange, holdout: pd.DataFrame, order: np.ndarray) -> pd.DataFrame | None:
    """Rank 0: every worker's holdout rows in input order (by each row's position in the input); others: None."""
    shares = exchange.gather((holdout, np.asarray(order)) if exchange.rank != 0 else None)
    if shares is None:
        return None
    shares[0] = (holdout, np.asarray(order))
    frames = [frame for frame, _ in shares]
    positions = np.concatenate([o for _, o in shares])
    combined = pd.concat(frames, ignore_index=True)
    return combined.iloc[np.argsort(positions, kind="stable")].reset_index(drop=True)
