"""Split step: separate holdout rows from training rows and hand pandas DataFrames on.

DATE_RANGE puts rows with start_date <= date < end_date in the holdout set
(rows with a null date stay in training). RANDOM draws each row into the
holdout set with probability `fraction` from a generator seeded with `seed`,
so the same data and seed always give the same split.
"""

from __future__ import annotations


import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from railyard.pipeline.filter import typed_values, value_type
from railyard.spec import HoldoutSampling, SamplingFunction


def holdout_mask(table: pa.Table, sampling: HoldoutSampling) -> pa.ChunkedArray | pa.Array:
    if sampling.sampling_function is SamplingFunction.DATE_RANGE:
        r = sampling.date_range_sampling
        column = table.column(r.date_column)
        start, end = typed_values([r.start_date, r.end_date], value_type(column.type))
        inside = pc.and_(pc.greater_equal(column, start), pc.less(column, end))
        return pc.fill_null(inside, False)
    r = sampling.random_sampling
    draws = np.random.default_rng(r.seed).random(table.num_rows)
    return pa.array(draws < r.fraction)


def to_pandas(table: pa.Table) -> pd.DataFrame:
    # split_blocks + self_destruct release Arrow buffers as columns are converted.
    return table.to_pandas(split_blocks=True, self_destruct=True)


def split(table: pa.Table, sampling: HoldoutSampling, columns: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training_dataframe, holdout_dataframe), each holding `columns` in that order."""
    mask = holdout_mask(table, sampling)
    projected = table.select(columns)
    holdout = projected.filter(mask)
    training = projected.filter(pc.invert(mask))
    del projected
    return to_pandas(training), to_pandas(holdout)


def describe(sampling: HoldoutSampling) -> dict:
    if sampling.sampling_function is SamplingFunction.DATE_RANGE:
        r = sampling.date_range_sampling
        return {"sampling_function": "DATE_RANGE", "date_column": r.date_column, "start_date": str(r.start_date), "end_date": str(r.end_date)}
    return {"sampling_function": "RANDOM", **sampling.random_sampling.model_dump()}
