"""charts.json: what the charts of a run are drawn from, computed by the trainer from the holdout set.

The dashboard and report.html read this small file instead of scores.tsv and labels.tsv. Every curve
holds at most MAX_POINTS points; values that are not finite are written as null.

    binary classification   roc, precision_recall, operating_point, calibration, score_histograms
    multi-class             confusion (counts, actual class by predicted class) and per_class (precision,
                            recall, F1 and support of each class), of at most MAX_CLASSES classes
    regression              predicted_vs_actual, residual_histogram
    forecast (one holdout row per date)   forecast (with the label's name and the training series before
                            the holdout, each thinned to MAX_POINTS), besides the regression charts
    every run               steps (time and peak memory of each step)

Charts are a view of the result, never part of it: a failure here is logged and the run goes on
without them (`result.charts` is then null).
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd

from railyard.report import CHARTS_FILE
from railyard.storage import Store

MAX_POINTS = 200
HISTORY_ROWS = 100_000  # a longer training set is not one series: no history is kept for a forecast chart
MAX_CLASSES = 30  # the most frequent actual classes a confusion matrix shows; the rest are "(other)"
CALIBRATION_BINS = 10
HISTOGRAM_BINS = 20
OPERATING_THRESHOLD = 0.5  # evaluate's accuracy counts a score >= 0.5 as the positive label
VERSION = 1
log = logging.getLogger(__name__)


def values(array, digits: int = 5) -> list[float | None]:
    """JSON-ready floats, rounded; NaN and infinities become null."""
    array = np.asarray(array, dtype=np.float64)
    rounded = np.round(array, digits)
    return [float(v) if np.isfinite(v) else None for v in rounded]


def _ratio(numerator: float, denominator: float) -> float | None:
    return float(numerator / denominator) if denominator else None


def spread_indices(count: int, at_most: int = MAX_POINTS) -> np.ndarray:
    """At most `at_most` indices into `count` items, evenly spread, first and last included."""
    if count <= at_most:
        return np.arange(count)
    return np.unique(np.linspace(0, count - 1, at_most).round().astype(np.int64))


def _curve_indices(progress: np.ndarray) -> np.ndarray:
    """Indices along a curve whose `progress` never decreases, spread evenly over it (at most MAX_POINTS)."""
    last = progress.size - 1
    if progress.size <= MAX_POINTS:
        return np.arange(progress.size)
    targets = np.linspace(progress[0], progress[-1], MAX_POINTS - 2)
    inner = np.searchsorted(progress, targets, side="left").clip(0, last)
    return np.unique(np.r_[0, inner, last])


def binary_charts(labels: np.ndarray, scores: np.ndarray, positive_label=1, negative_label=None) -> dict:
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(scores, dtype=np.float64)
    kept = np.isfinite(scores)
    labels, scores = labels[kept], scores[kept]
    charts: dict = {"rows": int(scores.size), "rows_without_score": int((~kept).sum())}
    if scores.size == 0:
        return charts
    positives, negatives = int(labels.sum()), int((~labels).sum())
    predicted = scores >= OPERATING_THRESHOLD
    tp, fp = int((predicted & labels).sum()), int((predicted & ~labels).sum())
    charts["operating_point"] = {
        "threshold": OPERATING_THRESHOLD, "rule": "score >= threshold",
        "tpr": _ratio(tp, positives), "fpr": _ratio(fp, negatives),
        "precision": _ratio(tp, tp + fp), "recall": _ratio(tp, positives),
        "true_positives": tp, "false_positives": fp,
        "false_negatives": positives - tp, "true_negatives": negatives - fp,
    }
    if positives and negatives:
        order = np.argsort(-scores, kind="stable")
        ranked_labels, ranked_scores = labels[order], scores[order]
        last_of_each_score = np.r_[np.flatnonzero(np.diff(ranked_scores)), ranked_scores.size - 1]
        true_positives = np.cumsum(ranked_labels, dtype=np.int64)[last_of_each_score]
        false_positives = last_of_each_score + 1 - true_positives
        tpr = np.r_[0.0, true_positives / positives]
        fpr = np.r_[0.0, false_positives / negatives]
        precision = true_positives / (true_positives + false_positives)
        precision = np.r_[precision[0], precision]
        thresholds = np.r_[np.inf, ranked_scores[last_of_each_score]]
        keep = _curve_indices(tpr + fpr)
        charts["roc"] = {"fpr": values(fpr[keep]), "tpr": values(tpr[keep]), "threshold": values(thresholds[keep]),
                         "auc": float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))}
        charts["precision_recall"] = {"recall": values(tpr[keep]), "precision": values(precision[keep]),
                                      "threshold": values(thresholds[keep]), "positive_rate": positives / scores.size,
                                      "average_precision": float(np.sum(np.diff(tpr) * precision[1:]))}
    charts["calibration"] = calibration(labels, scores)
    charts["score_histograms"] = score_histograms(labels, scores, positive_label)
    if isinstance(negative_label, (bool, int, float, str)):
        charts["score_histograms"]["negative_label"] = negative_label
    return charts


def calibration(labels: np.ndarray, scores: np.ndarray, bins: int = CALIBRATION_BINS) -> dict:
    """Equal-width bins over [0, 1] (scores outside it fall in the end bins): mean score against the positive rate."""
    index = np.minimum((np.clip(scores, 0.0, 1.0) * bins).astype(np.int64), bins - 1)
    counts = np.bincount(index, minlength=bins)
    score_sums = np.bincount(index, weights=scores, minlength=bins)
    positive_sums = np.bincount(index, weights=labels.astype(np.float64), minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_predicted, observed_rate = score_sums / counts, positive_sums / counts
    return {"edges": values(np.linspace(0.0, 1.0, bins + 1)), "mean_predicted": values(mean_predicted),
            "observed_rate": values(observed_rate), "counts": [int(c) for c in counts]}


def score_histograms(labels: np.ndarray, scores: np.ndarray, positive_label=1, bins: int = HISTOGRAM_BINS) -> dict:
    lo, hi = float(scores.min()), float(scores.max())
    if lo >= 0.0 and hi <= 1.0:
        lo, hi = 0.0, 1.0
    elif hi <= lo:
        hi = lo + 1.0
    edges = np.linspace(lo, hi, bins + 1)
    positive, _ = np.histogram(scores[labels], bins=edges)
    negative, _ = np.histogram(scores[~labels], bins=edges)
    return {"edges": values(edges, 6), "positive": [int(c) for c in positive], "negative": [int(c) for c in negative],
            "positive_label": positive_label if isinstance(positive_label, (bool, int, float, str)) else str(positive_label)}


def histogram(data: np.ndarray, bins: int = HISTOGRAM_BINS) -> dict:
    if data.size == 0:
        return {"edges": [], "counts": []}
    lo, hi = float(data.min()), float(data.max())
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    counts, edges = np.histogram(data, bins=bins, range=(lo, hi))
    return {"edges": values(edges, 6), "counts": [int(c) for c in counts]}


def regression_charts(labels: np.ndarray, predicted: np.ndarray) -> dict:
    actual = np.asarray(labels, dtype=np.float64)
    predicted = np.asarray(predicted, dtype=np.float64)
    kept = np.isfinite(actual) & np.isfinite(predicted)
    actual, predicted = actual[kept], predicted[kept]
    sample = np.sort(np.random.default_rng(0).choice(actual.size, MAX_POINTS, replace=False)) if actual.size > MAX_POINTS else np.arange(actual.size)
    return {
        "predicted_vs_actual": {"actual": values(actual[sample], 6), "predicted": values(predicted[sample], 6),
                                "rows": int(actual.size), "sampled": int(sample.size)},
        "residual_histogram": {**histogram(actual - predicted), "residual": "actual - predicted"},
    }


def _moments(dates) -> pd.Series | None:
    """Dates as naive UTC timestamps; None unless every one is a date and each is there once (a series)."""
    moments = pd.to_datetime(pd.Series(np.asarray(dates)), errors="coerce")
    if moments.dt.tz is not None:
        moments = moments.dt.tz_convert("UTC").dt.tz_localize(None)
    return None if moments.isna().any() or not moments.is_unique or moments.size < 2 else moments


def training_history(dates: pd.Series, labels: pd.Series) -> dict | None:
    """The training series a forecast continues, thinned to MAX_POINTS: None unless it is one numeric row per date
    (and at most HISTORY_ROWS rows)."""
    if len(dates) > HISTORY_ROWS or not pd.api.types.is_numeric_dtype(labels):
        return None
    moments = _moments(dates)
    if moments is None:
        return None
    order = np.argsort(moments.to_numpy(), kind="stable")
    keep = order[spread_indices(order.size)]
    return {"dates": [moment.isoformat() for moment in moments.iloc[keep]],
            "actual": values(labels.to_numpy(dtype=np.float64)[keep], 6), "rows": int(moments.size)}


def forecast_chart(dates: pd.Series, labels: np.ndarray, scored, history: dict | None = None,
                   label: str | None = None) -> dict | None:
    """The holdout series with the forecast and its interval, the training series before it; None unless there
    is one holdout row per date."""
    moments = _moments(dates)
    if moments is None:
        return None
    frame = scored if isinstance(scored, pd.DataFrame) else pd.DataFrame({"yhat": np.asarray(scored).reshape(-1)})
    forecast = frame["yhat"] if "yhat" in frame.columns else frame.iloc[:, 0]
    order = np.argsort(moments.to_numpy(), kind="stable")
    keep = order[spread_indices(order.size)]
    chart = {
        "dates": [moment.isoformat() for moment in moments.iloc[keep]],
        "actual": values(np.asarray(labels, dtype=np.float64)[keep], 6),
        "yhat": values(forecast.to_numpy(dtype=np.float64)[keep], 6),
        "rows": int(moments.size),
        "label": label,
        "history": history,
    }
    for bound in ("yhat_lower", "yhat_upper"):
        if bound in frame.columns:
            chart[bound] = values(frame[bound].to_numpy(dtype=np.float64)[keep], 6)
    return chart


def multiclass_charts(labels: np.ndarray, predicted: np.ndarray) -> dict:
    """The confusion matrix and each class's precision, recall, F1 and support; classes past MAX_CLASSES (by
    support) are counted together as "(other)"."""
    actual, predicted = pd.Series(labels).astype(str), pd.Series(predicted).astype(str)
    classes = list(actual.value_counts(sort=True).index[:MAX_CLASSES])
    shown = set(classes)
    actual, predicted = actual.where(actual.isin(shown), "(other)"), predicted.where(predicted.isin(shown), "(other)")
    if (actual == "(other)").any() or (predicted == "(other)").any():
        classes.append("(other)")
    counts = pd.crosstab(actual, predicted).reindex(index=classes, columns=classes, fill_value=0).to_numpy()
    per_class = []
    for i, name in enumerate(classes):
        hits, as_predicted, support = counts[i, i], counts[:, i].sum(), counts[i, :].sum()
        precision, recall = _ratio(hits, as_predicted), _ratio(hits, support)
        f1 = 2 * precision * recall / (precision + recall) if precision and recall else (0.0 if support else None)
        per_class.append({"class": name, "precision": precision, "recall": recall, "f1": f1, "support": int(support)})
    return {"confusion": {"classes": classes, "counts": counts.astype(int).tolist()}, "per_class": per_class}


def chart_data(metrics: dict, labels: pd.Series, scores: np.ndarray, scored=None, dates: pd.Series | None = None,
               history: dict | None = None, negative_label=None) -> dict:
    """The charts of one evaluated run; the steps are added when it is written. `history`: the training series
    before the holdout (training_history), for a forecast."""
    kind = metrics.get("kind")
    try:
        charts: dict = {"version": VERSION, "kind": kind}
        if kind == "binary_classification":
            charts.update(binary_charts(labels.to_numpy(), scores, metrics.get("positive_label", 1),
                                        0 if negative_label is None and "positive_label" not in metrics else negative_label))
        elif kind == "multiclass_classification":
            charts.update(multiclass_charts(labels.to_numpy(), scores))
        elif kind == "regression":
            charts.update(regression_charts(labels.to_numpy(), scores))
            forecast = scored if scored is not None else scores
            series = forecast_chart(dates, labels.to_numpy(), forecast, history, str(labels.name)) if dates is not None else None
            if series is not None:
                charts["kind"], charts["forecast"] = "forecast", series
        return charts
    except Exception as exc:  # noqa: BLE001 - charts are a view; the run goes on without them
        log.warning(f"[railyard] warning: no holdout charts: {type(exc).__name__}: {exc}")
        return {"version": VERSION, "kind": kind}


def write_charts(store: Store, charts: dict, steps: list[dict]) -> str | None:
    """Write charts.json with the steps' time and peak memory; its URL, or None when it could not be written."""
    try:
        document = {**charts, "steps": [{"name": s["name"], "wall_seconds": s["wall_seconds"],
                                         "peak_memory_bytes": s["peak_memory_bytes"]} for s in steps]}
        return store.write_text(CHARTS_FILE, json.dumps(document, separators=(",", ":"), allow_nan=False) + "\n")
    except Exception as exc:  # noqa: BLE001
        log.warning(f"[railyard] warning: charts.json was not written: {type(exc).__name__}: {exc}")
        return None
