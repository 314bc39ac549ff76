"""Evaluate step: score the holdout set and compute metrics.

A label with two values (0/1 or booleans) is evaluated as a binary
classification whatever the objective: the talk's fraud model is an
`XGBRegressor` on a 0/1 label, and its scores are ranked like probabilities.
Any other label is evaluated as a regression.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn import metrics as skm

_EPS = 1e-15


def is_binary(labels: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(labels):
        return True
    if not pd.api.types.is_numeric_dtype(labels):
        return False
    return set(np.unique(labels.to_numpy())) <= {0, 1}


def classification_metrics(labels: np.ndarray, scores: np.ndarray) -> dict:
    labels = labels.astype(np.int8)
    metrics = {
        "kind": "binary_classification",
        "rows": int(labels.size),
        "positive_rate": float(labels.mean()),
        "accuracy": float(((scores >= 0.5) == labels).mean()),
        "log_loss": float(skm.log_loss(labels, np.clip(scores, _EPS, 1 - _EPS), labels=[0, 1])),
        "roc_auc": None,
        "pr_auc": None,
    }
    if 0 < labels.sum() < labels.size:
        metrics["roc_auc"] = float(skm.roc_auc_score(labels, scores))
        metrics["pr_auc"] = float(skm.average_precision_score(labels, scores))
    return metrics


def regression_metrics(labels: np.ndarray, scores: np.ndarray) -> dict:
    return {
        "kind": "regression",
        "rows": int(labels.size),
        "rmse": float(np.sqrt(skm.mean_squared_error(labels, scores))),
        "mae": float(skm.mean_absolute_error(labels, scores)),
        "r2": float(skm.r2_score(labels, scores)) if labels.size > 1 else None,
    }


def evaluate(labels: pd.Series, scores) -> dict:
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if scores.size != len(labels):
        raise ValueError(f"the workflow returned {scores.size} scores for {len(labels)} holdout rows")
    if is_binary(labels):
        return classification_metrics(labels.to_numpy(), scores)
    return regression_metrics(labels.to_numpy(dtype=np.float64), scores)


def headline(metrics: dict) -> str:
    keys = ("roc_auc", "pr_auc", "log_loss", "accuracy") if metrics["kind"] == "binary_classification" else ("rmse", "mae", "r2")
    return ", ".join(f"{k} {metrics[k]:.4f}" for k in keys if metrics.get(k) is not None)
