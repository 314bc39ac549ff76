"""charts.json: bounded curves that agree with the metrics, per problem kind, and nothing that is not JSON."""

import json
import logging

import numpy as np
import pandas as pd
import pytest

from railyard.pipeline.evaluate import evaluate
from railyard.report.chart_data import MAX_POINTS, chart_data, write_charts
from railyard.storage import LocalStore


def fraud_like(rows: int, seed: int = 0) -> tuple[pd.Series, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.random(rows) < 0.07
    scores = np.clip(rng.normal(0.1 + 0.25 * labels, 0.12), -0.05, 1.05).round(3)  # ties, and scores outside [0, 1]
    return pd.Series(labels.astype(np.int8), name="has_fraud_dispute"), scores


def test_binary_curves_are_bounded_and_agree_with_the_metrics():
    labels, scores = fraud_like(50_000)
    metrics = evaluate(labels, scores)
    charts = chart_data(metrics, labels, scores)
    roc, pr = charts["roc"], charts["precision_recall"]
    assert 100 < len(roc["fpr"]) <= MAX_POINTS and len(roc["fpr"]) == len(roc["tpr"]) == len(pr["precision"])
    assert (roc["fpr"][0], roc["tpr"][0]) == (0.0, 0.0) and (roc["fpr"][-1], roc["tpr"][-1]) == (1.0, 1.0)
    assert all(a <= b for a, b in zip(roc["fpr"], roc["fpr"][1:])) and all(a <= b for a, b in zip(roc["tpr"], roc["tpr"][1:]))
    assert abs(roc["auc"] - metrics["roc_auc"]) < 1e-9 and abs(pr["average_precision"] - metrics["pr_auc"]) < 1e-9
    point = charts["operating_point"]
    assert point["threshold"] == 0.5
    correct = point["true_positives"] + point["true_negatives"]
    assert abs(correct / len(labels) - metrics["accuracy"]) < 1e-12
    assert point["recall"] == point["tpr"] == point["true_positives"] / labels.sum()
    calibration = charts["calibration"]
    assert len(calibration["counts"]) == 10 and sum(calibration["counts"]) == len(labels)
    filled = [i for i, c in enumerate(calibration["counts"]) if c]
    assert all(0 <= calibration["observed_rate"][i] <= 1 for i in filled)
    assert all(calibration["mean_predicted"][i] is None for i, c in enumerate(calibration["counts"]) if not c)
    histograms = charts["score_histograms"]
    assert len(histograms["edges"]) == 21 and histograms["edges"][0] <= scores.min() and histograms["edges"][-1] >= scores.max()
    assert sum(histograms["positive"]) == labels.sum() and sum(histograms["negative"]) == (labels == 0).sum()
    assert len(json.dumps(charts)) < 40_000


def test_non_finite_scores_are_counted_and_never_written_as_nan(tmp_path):
    labels, scores = fraud_like(2_000)
    scores = scores.astype(float)
    scores[:10] = np.nan
    scores[10] = np.inf
    charts = chart_data({"kind": "binary_classification"}, labels, scores)
    assert charts["rows_without_score"] == 11 and charts["rows"] == 1_989
    store = LocalStore(str(tmp_path))
    write_charts(store, charts, [{"name": "load", "wall_seconds": 0.1, "peak_memory_bytes": 1 << 20, "rows_in": 5}])
    written = json.loads((tmp_path / "charts.json").read_text())  # json.dumps refused NaN: the file is strict JSON
    assert written["steps"] == [{"name": "load", "wall_seconds": 0.1, "peak_memory_bytes": 1 << 20}]


def test_one_label_only_has_no_curves_but_the_rest():
    labels = pd.Series(np.zeros(500, dtype=np.int8))
    charts = chart_data({"kind": "binary_classification"}, labels, np.linspace(0, 1, 500))
    assert "roc" not in charts and "precision_recall" not in charts
    assert sum(charts["calibration"]["counts"]) == 500 and charts["operating_point"]["tpr"] is None


def test_regression_samples_at_most_200_points_and_histograms_every_residual():
    rng = np.random.default_rng(3)
    actual = rng.normal(100, 10, 10_000)
    predicted = actual + rng.normal(0, 2, 10_000)
    predicted[5] = np.nan
    charts = chart_data({"kind": "regression"}, pd.Series(actual), predicted)
    sample = charts["predicted_vs_actual"]
    assert len(sample["actual"]) == len(sample["predicted"]) == sample["sampled"] == MAX_POINTS and sample["rows"] == 9_999
    assert sum(charts["residual_histogram"]["counts"]) == 9_999 and "forecast" not in charts


def test_a_series_with_one_row_per_date_is_a_forecast_with_its_interval():
    days = pd.Series(pd.date_range("2018-10-01", periods=450, freq="D", tz="UTC"))
    actual = np.arange(450, dtype=float)
    scored = pd.DataFrame({"yhat": actual + 1, "yhat_lower": actual - 5, "yhat_upper": actual + 5})
    charts = chart_data({"kind": "regression"}, pd.Series(actual[::-1]), scored["yhat"].to_numpy()[::-1], scored.iloc[::-1].reset_index(drop=True),
                        days.iloc[::-1].reset_index(drop=True))
    forecast = charts["forecast"]
    assert charts["kind"] == "forecast" and forecast["rows"] == 450
    assert len(forecast["dates"]) == MAX_POINTS and forecast["dates"][0] == "2018-10-01T00:00:00" and forecast["dates"] == sorted(forecast["dates"])
    assert forecast["actual"][0] == 0.0 and forecast["yhat"][0] == 1.0 and forecast["yhat_lower"][0] == -5.0 and forecast["yhat_upper"][-1] == 454.0
    repeated = pd.Series(pd.to_datetime(["2019-01-01", "2019-01-01", "2019-01-02"]))
    again = chart_data({"kind": "regression"}, pd.Series([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0]), None, repeated)
    assert "forecast" not in again and again["kind"] == "regression"


def test_charts_that_cannot_be_made_are_logged_and_the_run_goes_on(caplog):
    logger = logging.getLogger("railyard.report.chart_data")
    logger.addHandler(caplog.handler)  # the trainer may have stopped "railyard" propagating to the root logger
    try:
        charts = chart_data({"kind": "binary_classification"}, pd.Series([0, 1, 1]), np.array([0.1, 0.9]))
    finally:
        logger.removeHandler(caplog.handler)
    assert charts == {"version": 1, "kind": "binary_classification"}
    assert "no holdout charts" in caplog.text


def test_a_three_class_run_gets_its_confusion_matrix_and_each_class_scores():
    actual = pd.Series(["adelie"] * 5 + ["gentoo"] * 3 + ["chinstrap"] * 2, name="species")
    predicted = np.array(["adelie"] * 4 + ["gentoo"] + ["gentoo"] * 3 + ["adelie", "chinstrap"])
    charts = chart_data(evaluate(actual, predicted), actual, predicted)
    assert charts["confusion"] == {"classes": ["adelie", "gentoo", "chinstrap"], "counts": [[4, 1, 0], [0, 3, 0], [1, 0, 1]]}
    adelie, gentoo, chinstrap = charts["per_class"]
    assert adelie == {"class": "adelie", "precision": 0.8, "recall": 0.8, "f1": pytest.approx(0.8), "support": 5}
    assert (gentoo["precision"], gentoo["recall"]) == (0.75, 1.0) and (chinstrap["precision"], chinstrap["recall"]) == (1.0, 0.5)
