"""Synthetic daily payment volumes with a trend, weekly and yearly seasonality, for Prophet.

    python -m workflows.data.volumes --days 730 --out sample-data/volumes.parquet

One row per day from 2017-01-01: `day`, `volume` (the series), and
`marketing_spend`, a regressor that lifts volume on the days it is high.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from workflows.data import write_parquet


def table(days: int, seed: int = 5) -> pa.Table:
    rng = np.random.default_rng(seed)
    day = pd.date_range("2017-01-01", periods=days, freq="D", tz="UTC")
    t = np.arange(days)
    weekly = np.array([1.0, 1.05, 1.08, 1.1, 1.2, 0.8, 0.7])[day.day_of_week]
    yearly = 1 + 0.15 * np.sin(2 * np.pi * t / 365.25 - 1.2)
    spend = np.round(rng.gamma(2.0, 50.0, days), 2)
    volume = (10_000 + 8 * t) * weekly * yearly + 6 * spend + rng.normal(0, 250, days)
    return pa.table({"day": pa.array(day.to_pydatetime(), type=pa.timestamp("us", tz="UTC")),
                     "volume": np.round(volume, 2), "marketing_spend": spend})


def write(days: int, out: str | Path, seed: int = 5) -> Path:
    return write_parquet(table(days, seed), out, row_group_size=90)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    print(f"wrote {args.days} days of volumes to {write(args.days, args.out)}")


if __name__ == "__main__":
    main()
