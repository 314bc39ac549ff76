"""The chart functions: which charts a job gets, overlays of two jobs, the importance adapter, hostile names."""

import datetime as dt
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd

from railyard.pipeline.evaluate import HEADLINES, evaluate
from railyard.report.chart_data import chart_data, training_history
from railyard.report.run_table import HEADLINE_METRICS
from railyard.report.charts import (
    compare_figures,
    feature_importance_chart,
    importance_rows,
    job_figures,
    learning_curve_chart,
    metric_history_chart,
)

NS = {"svg": "http://www.w3.org/2000/svg"}
STEPS = [{"name": n, "wall_seconds": w, "peak_memory_bytes": m} for n, w, m in
         (("load", 0.2, 2e8), ("train", 3.5, 6e8), ("evaluate", 0.1, 6.1e8))]


def binary_charts(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    labels = pd.Series((rng.random(5_000) < 0.1).astype(np.int8))
    scores = np.clip(rng.normal(0.1 + 0.3 * labels, 0.15), 0, 1)
    return {**chart_data(evaluate(labels, scores), labels, scores), "steps": STEPS}


def series_names(svg: str) -> list[str]:
    return [g.get("data-series") for g in ET.fromstring(svg).findall(".//svg:g[@class='series']", NS)]


def test_headline_metrics_are_the_first_of_evaluates_headlines():
    assert HEADLINE_METRICS == {kind: names[0] for kind, names in HEADLINES.items()}


def test_a_binary_job_gets_its_curves_and_steps():
    curve = {"metric": "rmse", "unit": "iteration", "total": 3,
             "points": [{"iteration": 1, "training": 0.5, "holdout": 0.6}, {"iteration": 2, "training": 0.4, "holdout": None},
                        {"iteration": 3, "training": 0.3, "holdout": 0.5}]}
    figures = job_figures(binary_charts(), {"learning_curve": curve})
    assert [f.key for f in figures] == ["roc", "precision-recall", "calibration", "score-histogram", "learning-curve", "step-time", "step-memory"]
    roc = figures[0].svg
    assert series_names(roc)[0] == "chance" and series_names(roc)[1].startswith("model (AUC 0.")
    assert "model at threshold 0.5: TPR" in series_names(roc)[2]
    for figure in figures:
        root = ET.fromstring(figure.svg)
        assert root.get("role") == "img" and root.find("svg:title", NS).text
    assert series_names(figures[4].svg) == ["training", "holdout"]


def test_each_calibration_bin_shows_its_row_count_beside_it_on_one_run_and_on_hover_on_two():
    charts = binary_charts()
    counts = [c for c in charts["calibration"]["counts"] if c]
    [calibration] = [f.svg for f in job_figures(charts, None) if f.key == "calibration"]
    labels = [t.text for t in ET.fromstring(calibration).iter("{http://www.w3.org/2000/svg}text") if t.get("class") == "point-label"]
    assert labels == [f"{c / 1000:.1f}k" if c >= 1000 else str(c) for c in counts] and sum(counts) == 5_000
    [compared] = [f.svg for f in compare_figures((charts, None), (binary_charts(1), None)) if f.key == "calibration"]
    assert 'class="point-label"' not in compared and "hover a point for its row count" in compared


def test_a_regression_forecast_gets_the_series_with_its_interval_after_its_history():
    days = pd.Series(pd.date_range("2018-10-01", periods=92, freq="D"))
    actual = np.sin(np.arange(92) / 5) * 10 + 100
    scored = pd.DataFrame({"yhat": actual + 1, "yhat_lower": actual - 4, "yhat_upper": actual + 4})
    before = pd.Series(pd.date_range("2017-01-01", periods=638, freq="D"))
    history = training_history(before, pd.Series(np.linspace(80, 100, 638)))
    charts = chart_data(evaluate(pd.Series(actual), scored["yhat"].to_numpy()), pd.Series(actual, name="volume"),
                        scored["yhat"].to_numpy(), scored, days, history)
    figures = job_figures(charts, None)
    assert [f.key for f in figures] == ["forecast", "predicted-vs-actual", "residuals"]
    forecast = ET.fromstring(figures[0].svg)
    assert forecast.find(".//svg:g[@class='band']/svg:polygon", NS) is not None
    assert series_names(figures[0].svg) == ["training history", "holdout actual", "forecast"]
    texts = [t.text for t in forecast.iter("{http://www.w3.org/2000/svg}text")]
    assert "volume" in texts  # the y axis is named after the label
    assert "2018-01" in texts or "2018" in texts  # ticks on calendar boundaries
    title = forecast.find("svg:title", NS).text
    assert title == "Forecast after the training history (thinned: training 638 dates, 200 drawn)"


def test_a_failed_job_still_shows_its_steps_from_result_json():
    assert [f.key for f in job_figures(None, {"steps": STEPS})] == ["step-time", "step-memory"]
    assert job_figures(None, None) == [] and job_figures({}, {}) == []


def test_two_jobs_overlay_with_different_dash_patterns():
    curve_a = {"metric": "logloss", "unit": "epoch", "points": [{"epoch": e, "training": 1 / e, "holdout": 1.1 / e} for e in range(1, 6)]}
    figures = compare_figures((binary_charts(1), {"learning_curve": curve_a}), (binary_charts(2), None))
    assert [f.key for f in figures] == ["roc", "precision-recall", "calibration", "learning-curve"]
    root = ET.fromstring(figures[0].svg)
    curves = {g.get("data-series").split(" ")[0]: g.find("svg:path", NS) for g in root.findall(".//svg:g[@class='series']", NS)
              if g.get("data-series").startswith(("A (", "B ("))}
    assert set(curves) == {"A", "B"} and curves["A"].get("stroke-dasharray") != curves["B"].get("stroke-dasharray")
    assert series_names(figures[3].svg) == ["A training", "A holdout"]


def test_importance_adapter_sorts_and_escapes_feature_names():
    explanation = {"model_id": "sha256.X", "method": "tree", "rows": 100, "importance": [
        {"feature": "charge_amount", "mean_abs_contribution": 0.2}, {"feature": "<script>alert(1)</script>", "mean_abs_contribution": 0.9},
        {"feature": "broken", "mean_abs_contribution": float("nan")}, {"other": 1}]}
    rows = importance_rows(explanation)
    assert [name for name, _ in rows] == ["<script>alert(1)</script>", "charge_amount", "broken"]
    assert importance_rows([{"feature": "a", "mean_abs": 1}, {"feature": "b", "mean_abs": 2}]) == [("b", 2), ("a", 1)]
    assert importance_rows("nonsense") == [] and importance_rows(None) == []
    svg = feature_importance_chart(rows)
    assert "<script>" not in svg and "&lt;script&gt;alert(1)&lt;/script&gt;" in svg
    ET.fromstring(svg)
    many = feature_importance_chart([(f"f{i}", 100 - i) for i in range(50)])
    assert "the top 20 of 50" in ET.fromstring(many).find("svg:title", NS).text


def test_learning_curve_without_points_or_values_is_left_out():
    assert learning_curve_chart({"model": None}) is None
    assert learning_curve_chart({"model": {"metric": "rmse", "points": []}}) is None
    empty = learning_curve_chart({"model": {"metric": "rmse", "points": [{"iteration": 1, "training": None, "holdout": None}]}})
    assert "No data" in empty


def test_metric_history_marks_shipped_and_not_shipped_retrains():
    at = dt.datetime(2024, 3, 1, tzinfo=dt.timezone.utc)
    retrains = [{"at": at + dt.timedelta(days=i), "value": 0.7 + i / 100, "shipped": i == 2, "job_id": f"job-{i}"} for i in range(4)]
    retrains.append({"at": at, "value": None, "shipped": False, "job_id": "failed"})
    svg = metric_history_chart("roc_auc", retrains)
    root = ET.fromstring(svg)
    groups = {g.get("data-series"): g for g in root.findall(".//svg:g[@class='series']", NS)}
    assert list(groups) == ["roc_auc", "SHIPPED", "NOT SHIPPED"]
    assert len(groups["SHIPPED"].findall("svg:rect", NS)) == 1 and len(groups["NOT SHIPPED"].findall("svg:circle", NS)) == 3
    assert "job-2: roc_auc 0.72 SHIPPED" in groups["SHIPPED"].find("svg:rect/svg:title", NS).text
    assert metric_history_chart("roc_auc", [{"at": at, "value": None, "shipped": True, "job_id": "x"}]) is None


def svg_texts(svg: str) -> list[str]:
    return [t.text for t in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}text") if t.text]


def test_the_score_histogram_names_the_negative_class():
    rng = np.random.default_rng(3)
    labels = pd.Series((rng.random(2_000) < 0.2).astype(np.int8))
    scores = np.clip(rng.normal(0.2 + 0.3 * labels, 0.15), 0, 1)
    charts = chart_data({**evaluate(labels, scores), "positive_label": "Yes"}, labels, scores, negative_label="No")
    [histogram] = [f for f in job_figures(charts, None) if f.key == "score-histogram"]
    names = series_names(histogram.svg)
    assert names[0].startswith("label = No, ") and names[1].startswith("label = Yes (positive), ")
    assert series_names(next(f for f in job_figures(binary_charts(), None) if f.key == "score-histogram").svg)[0].startswith("label = 0, ")


def test_compared_learning_curves_follow_the_key_a_solid_circles_b_dashed_squares():
    curve = {"metric": "logloss", "unit": "iteration", "points": [{"iteration": i, "training": 1 / i, "holdout": 1.2 / i} for i in range(1, 6)]}
    svg = learning_curve_chart({"A": curve, "B": curve})
    groups = {g.get("data-series"): g for g in ET.fromstring(svg).findall(".//svg:g[@class='series']", NS)}
    dash = {name: g.find("svg:path", NS).get("stroke-dasharray") for name, g in groups.items()}
    shapes = {name: {child.tag.split("}")[1] for child in g if not child.tag.endswith("path")} for name, g in groups.items()}
    assert dash["A training"] == dash["A holdout"] != dash["B training"] == dash["B holdout"]
    assert shapes["A training"] == shapes["A holdout"] != shapes["B training"] == shapes["B holdout"]


def test_an_explanations_importance_names_its_unit():
    rows = [("charge_amount", 0.4), ("charge_type", 0.1)]
    assert any("log-odds" in text for text in svg_texts(feature_importance_chart(rows, "xgboost_pred_contribs")))
    assert any("probability" in text for text in svg_texts(feature_importance_chart(rows, "shap_permutation")))


def test_a_metric_over_time_starts_at_zero():
    at = dt.datetime(2019, 3, 1, tzinfo=dt.timezone.utc)
    svg = metric_history_chart("roc_auc", [{"at": at + dt.timedelta(days=d), "value": 0.74 + d / 1000, "shipped": d == 2, "job_id": str(d)}
                                           for d in range(5)])
    assert "0" in svg_texts(svg)  # the value axis has its zero: small changes are not drawn as large ones


def test_a_bins_row_count_is_short():
    from railyard.report.charts import _compact

    counts = (87, 999, 999.6, 9_949, 9_999, 999_499, 999_999, 3_100_000, 5e12)
    assert [_compact(c) for c in counts] == ["87", "999", "1.0k", "9.9k", "10k", "999k", "1.0M", "3.1M", "5000G"]
