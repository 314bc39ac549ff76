"""Holdout sampling: DATE_RANGE against pandas, RANDOM fraction and determinism."""

import numpy as np
import pandas as pd
import pyarrow as pa

from railyard.pipeline.split import split
from railyard.spec import HoldoutSampling

rng = np.random.default_rng(5)
N = 5_000
FRAME = pd.DataFrame(
    {
        "created_at": pd.to_datetime("2018-01-01", utc=True) + pd.to_timedelta(rng.integers(0, 365 * 24, N), unit="h"),
        "x": rng.normal(size=N),
        "y": rng.integers(0, 2, N),
    }
)
FRAME.loc[::97, "created_at"] = pd.NaT
TABLE = pa.Table.from_pandas(FRAME, preserve_index=False)


def sampling(raw):
    return HoldoutSampling.model_validate(raw)


def test_date_range_is_start_inclusive_end_exclusive():
    spec = sampling(
        {
            "sampling_function": "DATE_RANGE",
            "date_range_sampling": {"date_column": "created_at", "start_date": "2018-10-01", "end_date": "2019-01-01"},
        }
    )
    training, holdout = split(TABLE, spec, ["x", "y", "created_at"])
    inside = (FRAME.created_at >= pd.Timestamp("2018-10-01", tz="UTC")) & (FRAME.created_at < pd.Timestamp("2019-01-01", tz="UTC"))
    pd.testing.assert_frame_equal(holdout, FRAME[inside][["x", "y", "created_at"]].reset_index(drop=True), check_dtype=False)
    pd.testing.assert_frame_equal(training, FRAME[~inside][["x", "y", "created_at"]].reset_index(drop=True), check_dtype=False)
    assert training.created_at.isna().sum() == FRAME.created_at.isna().sum()  # null dates train


def test_random_split_fraction_and_seed():
    spec = sampling({"sampling_function": "RANDOM", "random_sampling": {"fraction": 0.25, "seed": 42}})
    training, holdout = split(TABLE, spec, ["x", "y"])
    assert len(training) + len(holdout) == N
    assert abs(len(holdout) / N - 0.25) < 0.03
    again_training, again_holdout = split(TABLE, spec, ["x", "y"])
    pd.testing.assert_frame_equal(holdout, again_holdout)
    other = sampling({"sampling_function": "RANDOM", "random_sampling": {"fraction": 0.25, "seed": 43}})
    _, other_holdout = split(TABLE, other, ["x", "y"])
    assert not holdout["x"].reset_index(drop=True).equals(other_holdout["x"].reset_index(drop=True))
    assert set(training["x"]).isdisjoint(holdout["x"])
