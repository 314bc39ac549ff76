"""Split step: separate holdout rows from training rows and hand pandas DataFrames on.

DATE_RANGE puts rows with start_date <= date < end_date in the holdout set
(rows with a null date stay in training). RANDOM puts a row in the holdout set
when a stable hash of its position in the input (file, row group, row in the
group: `load.ROW_POSITION`) and `seed`, read as a number in [0, 1), is below
`fraction`. A row's draw depends on nothing else, so the same data and seed give
the same split whatever the filters and however many workers share the input.
The holdout set keeps input order.
"""

from __future__ import annotations


import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from railyard.pipeline.filter import typed_values, value_type
from railyard.pipeline.load import ROW_POSITION
from railyard.spec import HoldoutSampling, SamplingFunction


def holdout_mask(table: pa.Table, sampling: HoldoutSampling) -> pa.ChunkedArray | pa.Array:
    if sampling.sampling_function is SamplingFunction.DATE_RANGE:
        r = sampling.date_range_sampling
        column = table.column(r.date_column)
        start, end = typed_values([r.start_date, r.end_date], value_type(column.type))
        inside = pc.and_(pc.greater_equal(column, start), pc.less(column, end))
        return pc.fill_null(inside, False)
    r = sampling.random_sampling
    return pa.array(position_draws(row_positions(table), r.seed) < r.fraction)


def row_positions(table: pa.Table) -> np.ndarray:
    """Each row's position in the input; 0..n-1 for a table read without positions."""
    if ROW_POSITION in table.column_names:
        return table.column(ROW_POSITION).to_numpy()
    return np.arange(table.num_rows, dtype=np.int64)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer: every input bit moves every output bit."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def position_draws(positions: np.ndarray, seed: int) -> np.ndarray:
    """A number in [0, 1) per position, fixed by the position and seed alone."""
    with np.errstate(over="ignore"):
        salt = _mix(np.array([seed % (1 << 64)], dtype=np.uint64) + np.uint64(0x9E3779B97F4A7C15))
        hashed = _mix(positions.astype(np.uint64) ^ salt)
    return (hashed >> np.uint64(11)).astype(np.float64) * 2.0 ** -53


def to_pandas(table: pa.Table) -> pd.DataFrame:
    # split_blocks + self_destruct release Arrow buffers as columns are converted.
    return table.to_pandas(split_blocks=True, self_destruct=True)


def split(table: pa.Table, sampling: HoldoutSampling, columns: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training_dataframe, holdout_dataframe), each holding `columns` in that order."""
    training, holdout, _ = split_with_positions(table, sampling, columns)
    return training, holdout


def split_with_positions(table: pa.Table, sampling: HoldoutSampling, columns: list[str],
                         holdout_keys: list[str] = ()) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """`split`, and the holdout rows' positions in the input (the holdout set is in that order); the holdout set
    also carries `holdout_keys`, the columns that join its scores back to the input."""
    mask = holdout_mask(table, sampling)
    positions = row_positions(table)
    projected = table.select(columns)
    holdout = table.select(list(dict.fromkeys([*columns, *holdout_keys]))).filter(mask)
    holdout_positions = positions[np.asarray(mask)]
    order = np.argsort(holdout_positions, kind="stable")
    if not np.array_equal(order, np.arange(len(order))):
        holdout, holdout_positions = holdout.take(pa.array(order)), holdout_positions[order]
    training = projected.filter(pc.invert(mask))
    del projected
    return to_pandas(training), to_pandas(holdout), holdout_positions


def describe(sampling: HoldoutSampling) -> dict:
    if sampling.sampling_function is SamplingFunction.DATE_RANGE:
        r = sampling.date_range_sampling
        return {"sampling_function": "DATE_RANGE", "date_column": r.date_column, "start_date": str(r.start_date), "end_date": str(r.end_date)}
    return {"sampling_function": "RANDOM", **sampling.random_sampling.model_dump()}
