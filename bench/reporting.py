"""What progress, the learning curve and checkpoints cost an XGBoost fit: the fraud fit with and without them.

    python -m bench.reporting [--rows 4000000 10000000] [--trees 100] [--depth 6] [--repeats 3]

On generated charges (as bench.trainer_vs_plain, after the same filter and date
split), the fraud model's fit runs in this process in turns: "bare", the
XGBRegressor fit of the plain script; "railyard", the same fit as the trainer's
train step makes it: the progress callback (progress.json, log lines), the
learning curve on `curve_sample`s of the training and holdout rows, and
checkpoints on the default schedule into a local directory. Turns alternate
(bare, railyard, railyard, bare, ...), so that both meet the same machine; the
medians are compared. Results also go to bench/out/reporting.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time

import pandas as pd
import xgboost

from bench.trainer_vs_plain import OUT, charges_file
from railyard.checkpoint import Checkpoints, RunIdentity, Schedule
from railyard.pipeline.progress import ProgressReporter
from railyard.storage import LocalStore

FEATURES, LABEL = ["charge_type", "charge_amount"], "has_fraud_dispute"


def split(path) -> tuple:
    df = pd.read_parquet(path, columns=[*FEATURES, LABEL, "created_at", "charge_country"])
    df = df[df["charge_country"].isin(["US", "CA"])]
    in_holdout = (df["created_at"] >= pd.Timestamp("2018-10-01", tz="UTC")) & (df["created_at"] < pd.Timestamp("2019-01-01", tz="UTC"))
    as_model = lambda rows: (rows[FEATURES].astype({"charge_type": "category"}), rows[LABEL])  # noqa: E731
    return as_model(df[~in_holdout]), as_model(df[in_holdout])


def fit(training: tuple, holdout: tuple, trees: int, depth: int, railyard: bool) -> float:
    model = xgboost.XGBRegressor(objective="reg:squarederror", n_estimators=trees, max_depth=depth, tree_method="hist",
                                 enable_categorical=True)
    if not railyard:
        started = time.perf_counter()
        model.fit(*training)
        return time.perf_counter() - started
    with tempfile.TemporaryDirectory() as output:
        store = LocalStore(output)
        progress = ProgressReporter(store)
        checkpoints = Checkpoints(store, RunIdentity("bench", "spec", "data", 1), Schedule(), resume=False)
        started = time.perf_counter()
        with progress.train_step(checkpoints):
            curve = [progress.curve_sample(*training), progress.curve_sample(*holdout)]
            model.fit(*training, eval_set=curve, verbose=False)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[4_000_000, 10_000_000])
    parser.add_argument("--trees", type=int, default=100)
    parser.add_argument("--depth", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    report = {"machine": machine, "trees": args.trees, "depth": args.depth, "runs": []}
    for rows in args.rows:
        training, holdout = split(charges_file(rows))
        seconds = {"bare": [], "railyard": []}
        for turn in range(args.repeats):
            for railyard in ((False, True) if turn % 2 == 0 else (True, False)):
                seconds["railyard" if railyard else "bare"].append(fit(training, holdout, args.trees, args.depth, railyard))
        bare, ours = statistics.median(seconds["bare"]), statistics.median(seconds["railyard"])
        report["runs"].append({"rows": rows, "training_rows": len(training[0]), "holdout_rows": len(holdout[0]),
                               "bare_seconds": [round(s, 3) for s in seconds["bare"]],
                               "railyard_seconds": [round(s, 3) for s in seconds["railyard"]],
                               "median_bare": round(bare, 3), "median_railyard": round(ours, 3),
                               "cost": round(ours / bare - 1, 4)})
        print(f"{rows:,} rows ({len(training[0]):,} training, {len(holdout[0]):,} holdout): fit bare {bare:.2f} s, with "
              f"progress, learning curve and checkpoints {ours:.2f} s: {ours / bare - 1:+.1%} (goal <= 5%)", flush=True)
    (OUT / "reporting.json").write_text(json.dumps(report, indent=2))
    print(f"({machine}, {args.trees} trees depth {args.depth}, medians of {args.repeats})")


if __name__ == "__main__":
    main()
