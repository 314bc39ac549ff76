"""Evaluate step: score the holdout set and compute metrics.

A label with two values (0/1 or booleans) is evaluated as a binary
classification whatever the objective: the talk's fraud model is an
`XGBRegressor` on a 0/1 label, and its scores are ranked like probabilities.
Scores that are class names (or a label that is not numeric) are evaluated as
a multi-class classification (accuracy, macro F1). Anything else is a
regression (RMSE, MAE, MAPE, R²).
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


def ranking_metrics(labels: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """(ROC AUC, average precision) from one sort; the same values as scikit-learn's."""
    order = np.argsort(-scores, kind="stable")
    ranked_labels, ranked_scores = labels[order], scores[order]
    last_of_each_score = np.r_[np.flatnonzero(np.diff(ranked_scores)), ranked_scores.size - 1]
    true_positives = np.cumsum(ranked_labels, dtype=np.int64)[last_of_each_score]
    false_positives = last_of_each_score + 1 - true_positives
    tpr = np.r_[0.0, true_positives / true_positives[-1]]
    fpr = np.r_[0.0, false_positives / false_positives[-1]]
    roc_auc = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
    precision = true_positives / (true_positives + false_positives)
    average_precision = float(np.sum(np.diff(tpr) * precision))
    return roc_auc, average_precision


def classification_metrics(labels: np.ndarray, scores: np.ndarray) -> dict:
    labels = labels.astype(np.int8)
    clipped = np.clip(scores, _EPS, 1 - _EPS)
    metrics = {
        "kind": "binary_classification",
        "rows": int(labels.size),
        "positive_rate": float(labels.mean()),
        "accuracy": float(((scores >= 0.5) == labels).mean()),
        "log_loss": float(-np.mean(np.where(labels == 1, np.log(clipped), np.log1p(-clipped)))),
        "roc_auc": None,
        "pr_auc": None,
    }
    if 0 < labels.sum() < labels.size:
        metrics["roc_auc"], metrics["pr_auc"] = ranking_metrics(labels, scores)
    return metrics


def regression_metrics(labels: np.ndarray, scores: np.ndarray) -> dict:
    nonzero = labels != 0
    return {
        "kind": "regression",
        "rows": int(labels.size),
        "rmse": float(np.sqrt(skm.mean_squared_error(labels, scores))),
        "mae": float(skm.mean_absolute_error(labels, scores)),
        "mape": float(np.mean(np.abs((labels[nonzero] - scores[nonzero]) / labels[nonzero]))) if nonzero.any() else None,
        "r2": float(skm.r2_score(labels, scores)) if labels.size > 1 else None,
    }


def multiclass_metrics(labels: np.ndarray, predicted: np.ndarray) -> dict:
    return {
        "kind": "multiclass_classification",
        "rows": int(labels.size),
        "classes": int(len(np.unique(labels))),
        "accuracy": float(skm.accuracy_score(labels, predicted)),
        "macro_f1": float(skm.f1_score(labels, predicted, average="macro")),
    }


def evaluate(labels: pd.Series, scores) -> dict:
    """Metrics picked from the label and the scores: binary, multi-class (scores are predicted classes) or regression."""
    scores = np.asarray(scores).reshape(-1)
    if scores.size != len(labels):
        raise ValueError(f"the workflow returned {scores.size} scores for {len(labels)} holdout rows")
    if is_binary(labels) and scores.dtype.kind in "iufb":
        return classification_metrics(labels.to_numpy(), scores.astype(np.float64))
    if scores.dtype.kind not in "iuf" or not pd.api.types.is_numeric_dtype(labels):
        return multiclass_metrics(labels.astype(str).to_numpy(), scores.astype(str))
    return regression_metrics(labels.to_numpy(dtype=np.float64), scores.astype(np.float64))


HEADLINES = {
    "binary_classification": ("roc_auc", "pr_auc", "log_loss", "accuracy"),
    "multiclass_classification": ("accuracy", "macro_f1"),
    "regression": ("rmse", "mae", "mape", "r2"),
}


def headline(metrics: dict) -> str:
    keys = HEADLINES[metrics["kind"]]
    line = ", ".join(f"{k} {metrics[k]:.4f}" for k in keys if metrics.get(k) is not None)
    return f"{line} (positive label {metrics['positive_label']!r})" if "positive_label" in metrics else line
