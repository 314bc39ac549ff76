"""The hand-written baseline: the fraud job as a plain pandas + xgboost script.

    python -m bench.plain_fraud DATA OUTPUT_DIR N_ESTIMATORS MAX_DEPTH
"""

import sys
import time
from pathlib import Path

import pandas as pd
import xgboost

FEATURES, LABEL = ["charge_type", "charge_amount"], "has_fraud_dispute"


def main(data: str, output: str, n_estimators: int, max_depth: int) -> None:
    df = pd.read_parquet(data)
    df = df[df["charge_country"].isin(["US", "CA"])]
    in_holdout = (df["created_at"] >= pd.Timestamp("2018-10-01", tz="UTC")) & (df["created_at"] < pd.Timestamp("2019-01-01", tz="UTC"))
    train, holdout = df[~in_holdout], df[in_holdout]
    X = train[FEATURES].astype({"charge_type": "category"})
    model = xgboost.XGBRegressor(
        objective="reg:squarederror", n_estimators=n_estimators, max_depth=max_depth, tree_method="hist", enable_categorical=True
    )
    started = time.perf_counter()
    model.fit(X, train[LABEL])
    fit_seconds = time.perf_counter() - started
    scores = model.predict(holdout[FEATURES].astype({"charge_type": "category"}))
    Path(output).mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"score": scores}).to_csv(Path(output) / "scores.tsv", sep="\t", index=False)
    print(f"fit_seconds {fit_seconds:.3f}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
