"""One function per chart, drawn from charts.json, result.json and an explanation's importance.json.

Curves that can be compared take `runs`, {name: document}: one run on a job's page and in report.html,
two ("A", "B") on the compare page, each with its own colour, dash pattern and marker. A function
returns None when its data is absent, so a page simply has fewer charts.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from railyard.report.svg import REFERENCE, Axis, Band, Series, Style, bar_chart, finite, histogram_chart, line_chart, number, style

# The first of each kind's headline metrics (railyard.pipeline.evaluate.HEADLINES): what a model page follows.
# importance.json's field names, in one place: {"importance": [{"feature": name, "mean_abs_contribution": value}, ...]}
# (or the list alone); the first value field present is used.
IMPORTANCE_LIST_KEYS = ("importance", "features")
IMPORTANCE_FEATURE, IMPORTANCE_VALUES = "feature", ("mean_abs_contribution", "mean_abs")
MAX_IMPORTANCE_BARS = 20
# What an explanation method's contributions add up to (railyard.explain.contributions), for the chart's axis.
CONTRIBUTION_UNITS = {"xgboost_pred_contribs": "the raw margin (log-odds for a classifier)",
                      "shap_tree": "the model's raw output (log-odds for a boosted classifier)",
                      "shap_permutation": "the score (a probability for a classifier)"}
UNIT = Axis("")
log = logging.getLogger(__name__)


@dataclass
class Figure:
    """One chart of a page: `key` names it (the page's `chart-<key>`), `svg` is the inline SVG."""

    key: str
    svg: str


def _blocks(runs: Mapping[str, dict | None], key: str) -> dict[str, dict]:
    return {name: doc[key] for name, doc in runs.items() if isinstance(doc, dict) and isinstance(doc.get(key), dict)}


def _pairs(xs, ys) -> list[tuple]:
    return list(zip(xs or [], ys or []))


def _operating_point(name: str, point: dict, x_key: str, y_key: str, index: int) -> Series | None:
    if not (finite(point.get(x_key)) and finite(point.get(y_key))):
        return None
    look = style(index)
    summary = f"TPR {number(point.get('tpr'), 3)}, FPR {number(point.get('fpr'), 3)}, precision {number(point.get('precision'), 3)}"
    return Series(f"{name} at threshold {number(point.get('threshold'))}: {summary}", [(point[x_key], point[y_key])],
                  Style(look.colour, "", "diamond" if index % 2 == 0 else "triangle-down"), line=False, markers="all",
                  tips=[summary])


def _curves(runs: Mapping[str, dict | None], curves: dict[str, dict], x: tuple[str, str], y: tuple[str, str],
            area: tuple[str, str]) -> list[Series]:
    """Each run's curve (y against x, each a (key, name) of the curve block) with its area in the legend and its
    operating point."""
    series = []
    for i, (name, curve) in enumerate(curves.items()):
        (x_key, x_name), (y_key, y_name), (area_key, area_name) = x, y, area
        legend = f" ({area_name} {number(curve.get(area_key), 3)})" if finite(curve.get(area_key)) else ""
        tips = [f"threshold {number(t)}: {y_name} {number(b, 3)}, {x_name} {number(a, 3)}"
                for a, b, t in zip(curve.get(x_key) or [], curve.get(y_key) or [], curve.get("threshold") or [])]
        series.append(Series(f"{name}{legend}", _pairs(curve.get(x_key), curve.get(y_key)), i, tips=tips))
        mark = _operating_point(name, runs[name].get("operating_point") or {}, x_key, y_key, i)
        if mark:
            series.append(mark)
    return series


def roc_chart(runs: Mapping[str, dict | None]) -> str | None:
    curves = _blocks(runs, "roc")
    if not curves:
        return None
    series = [Series("chance", [(0, 0), (1, 1)], REFERENCE, markers="none"),
              *_curves(runs, curves, ("fpr", "FPR"), ("tpr", "TPR"), ("auc", "AUC"))]
    return line_chart("ROC curve", series, x=Axis("False positive rate", (0, 1)), y=Axis("True positive rate", (0, 1)),
                      description="True positive rate against false positive rate as the score threshold falls.")


def precision_recall_chart(runs: Mapping[str, dict | None]) -> str | None:
    curves = _blocks(runs, "precision_recall")
    if not curves:
        return None
    series = []
    if len(curves) == 1:
        rate = next(iter(curves.values())).get("positive_rate")
        if finite(rate):
            series.append(Series(f"no skill (positive rate {number(rate, 3)})", [(0, rate), (1, rate)], REFERENCE, markers="none"))
    series += _curves(runs, curves, ("recall", "recall"), ("precision", "precision"), ("average_precision", "AP"))
    return line_chart("Precision–recall curve", series, x=Axis("Recall", (0, 1)), y=Axis("Precision", (0, 1)),
                      description="Precision against recall as the score threshold falls.")


def calibration_chart(runs: Mapping[str, dict | None]) -> str | None:
    blocks = _blocks(runs, "calibration")
    if not blocks:
        return None
    series = [Series("perfectly calibrated", [(0, 0), (1, 1)], REFERENCE, markers="none")]
    for i, (name, cal) in enumerate(blocks.items()):
        edges, counts = cal.get("edges") or [], cal.get("counts") or []
        points, tips, labels = [], [], []
        for j, (predicted, observed) in enumerate(_pairs(cal.get("mean_predicted"), cal.get("observed_rate"))):
            count = counts[j] if j < len(counts) else None
            if not finite(count) or not count:
                continue
            points.append((predicted, observed))
            labels.append(_compact(count))
            low, high = (edges[j], edges[j + 1]) if j + 1 < len(edges) else (None, None)
            tips.append(f"scores {number(low)} to {number(high)}: {number(count)} rows, mean score {number(predicted, 3)}, "
                        f"observed rate {number(observed, 3)}")
        series.append(Series(name, points, i, markers="all", tips=tips, labels=labels if len(blocks) == 1 else None))
    counts_shown = "each point's row count beside it" if len(blocks) == 1 else "hover a point for its row count"
    return line_chart("Calibration", series, x=Axis("Mean predicted score (10 bins)", (0, 1)), y=Axis("Observed positive rate", (0, 1)),
                      description=f"For each bin of scores, the share of rows whose label is positive; {counts_shown}.")


def _compact(count: float) -> str:
    """A row count in at most four characters and a unit: 87, 999, 1.0k, 9.9k, 10k, 999k, 1.0M, 3.1M."""
    if round(abs(count)) < 1000:
        return f"{count:.0f}"
    for scale, suffix in ((1e3, "k"), (1e6, "M"), (1e9, "G")):
        value = count / scale
        if round(abs(value), 1) < 10:
            return f"{value:.1f}{suffix}"
        if round(abs(value)) < 1000:
            return f"{value:.0f}{suffix}"
    return f"{count / 1e9:.0f}G"


def score_histogram_chart(charts: dict | None) -> str | None:
    block = (charts or {}).get("score_histograms")
    if not isinstance(block, dict):
        return None
    shares = []
    negative = f"label = {block['negative_label']}" if "negative_label" in block else "other labels"
    for key, name in (("negative", negative), ("positive", f"label = {block.get('positive_label', 1)} (positive)")):
        counts = block.get(key) or []
        total = sum(c for c in counts if finite(c))
        shares.append((f"{name}, {number(total)} rows", [c / total if total and finite(c) else None for c in counts]))
    return histogram_chart("Scores by label", block.get("edges") or [], shares, x=Axis("Score (20 bins)"),
                           y=Axis("Share of the label's rows"),
                           description="How the scores of each label's holdout rows are spread.")


def predicted_vs_actual_chart(charts: dict | None) -> str | None:
    block = (charts or {}).get("predicted_vs_actual")
    if not isinstance(block, dict):
        return None
    points = _pairs(block.get("actual"), block.get("predicted"))
    finite_values = [v for p in points for v in p if finite(v)]
    if not finite_values:
        return line_chart("Predicted against actual", [], x=UNIT, y=UNIT)
    lo, hi = min(finite_values), max(finite_values)
    sample = f"{number(block.get('sampled'))} of {number(block.get('rows'))} holdout rows"
    return line_chart("Predicted against actual", [
        Series("predicted = actual", [(lo, lo), (hi, hi)], REFERENCE, markers="none"),
        Series(sample, points, 0, line=False, markers="all", filled=False),
    ], x=Axis("Actual"), y=Axis("Predicted"), description=f"A random sample of {sample}.")


def residual_histogram_chart(charts: dict | None) -> str | None:
    block = (charts or {}).get("residual_histogram")
    if not isinstance(block, dict):
        return None
    return histogram_chart("Residuals", block.get("edges") or [], [("holdout rows", block.get("counts") or [])],
                           x=Axis("Actual − predicted (20 bins)"), y=Axis("Rows"))


def _seconds(moment) -> float | None:
    if isinstance(moment, dt.datetime):
        parsed = moment
    else:
        try:
            parsed = dt.datetime.fromisoformat(str(moment))
        except ValueError:
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.timestamp()


def forecast_chart(charts: dict | None) -> str | None:
    block = (charts or {}).get("forecast")
    if not isinstance(block, dict):
        return None
    xs = [_seconds(d) for d in block.get("dates") or []]
    bands = []
    if block.get("yhat_lower") and block.get("yhat_upper"):
        bands.append(Band("forecast interval", xs, block["yhat_lower"], block["yhat_upper"], 1))
    series = [
        Series("holdout actual", _pairs(xs, block.get("actual")), 0, line=False, markers="all", filled=False),
        Series("forecast", _pairs(xs, block.get("yhat")), 1, markers="none"),
    ]
    history = block.get("history") if isinstance(block.get("history"), dict) else {}
    if history.get("dates"):
        series.insert(0, Series("training history", _pairs([_seconds(d) for d in history["dates"]], history.get("actual")), 2,
                                markers="none"))
    label = block.get("label") if isinstance(block.get("label"), str) and block.get("label") else "Value"
    thinned = [f"{name} {number(part.get('rows'))} dates, {len(part.get('dates') or [])} drawn"
               for name, part in (("training", history), ("holdout", block)) if finite(part.get("rows"))
               and part["rows"] > len(part.get("dates") or [])]
    title = "Forecast after the training history" if history.get("dates") else "Forecast over the holdout period"
    return line_chart(title + (f" (thinned: {'; '.join(thinned)})" if thinned else ""), series, x=Axis("Date", kind="time"),
                      y=Axis(label), bands=bands, description=f"{number(block.get('rows'))} holdout dates"
                      + (f" after {number(history.get('rows'))} training dates" if history.get("rows") else "") + ".")


def _steps(charts: dict | None, result: dict | None) -> list[dict]:
    steps = (charts or {}).get("steps") or (result or {}).get("steps") or []
    return [s for s in steps if isinstance(s, dict) and "name" in s]


def step_time_chart(steps: Sequence[dict]) -> str | None:
    if not steps:
        return None
    return bar_chart("Time per step", [(s["name"], s.get("wall_seconds")) for s in steps], value=Axis("Wall time (seconds)"),
                     value_format=lambda v: f"{v:.2f} s")


def step_memory_chart(steps: Sequence[dict]) -> str | None:
    if not steps:
        return None
    mib = [(s["name"], s["peak_memory_bytes"] / 2**20 if finite(s.get("peak_memory_bytes")) else None) for s in steps]
    return bar_chart("Peak memory per step", mib, value=Axis("Peak resident memory (MiB)"), value_format=lambda v: f"{v:,.0f} MiB")


def learning_curve_chart(runs: Mapping[str, dict | None]) -> str | None:
    """result.learning_curve: {"metric", "unit", "total", "points": [{"iteration", "training", "holdout"}]}."""
    curves = {name: curve for name, curve in runs.items() if isinstance(curve, dict) and curve.get("points")}
    if not curves:
        return None
    series, metrics, units = [], set(), set()
    for name, curve in curves.items():
        unit = str(curve.get("unit") or "iteration")
        metrics.add(str(curve.get("metric") or "metric"))
        units.add(unit)
        points = [p for p in curve["points"] if isinstance(p, dict)]
        for part in ("training", "holdout"):
            xy = [(p.get(unit, p.get("iteration", p.get("epoch"))), p.get(part)) for p in points]
            if any(finite(y) for _, y in xy):
                if len(runs) > 1:  # the key's style for each run (A solid circles, B dashed squares): filled is training
                    series.append(Series(f"{name} {part}", xy, list(runs).index(name), filled=part == "training"))
                else:
                    series.append(Series(part, xy, len(series)))
    metric, unit = " / ".join(sorted(metrics)), " / ".join(sorted(units))
    return line_chart(f"Learning curve ({metric})", series, x=Axis(unit.capitalize()), y=Axis(metric),
                      description=f"{metric} on the training and holdout sets at each {unit}.")


def importance_rows(document) -> list[tuple[str, float | None]]:
    """importance.json as (feature, value) pairs, largest first; the one place that knows its field names."""
    rows = document
    if isinstance(document, dict):
        rows = next((document[k] for k in IMPORTANCE_LIST_KEYS if isinstance(document.get(k), list)), [])
    if not isinstance(rows, list):
        return []
    def value(row: dict):
        return next((row[key] for key in IMPORTANCE_VALUES if key in row), None)

    pairs = [(str(r[IMPORTANCE_FEATURE]), value(r)) for r in rows if isinstance(r, dict) and IMPORTANCE_FEATURE in r]
    return sorted(pairs, key=lambda pair: pair[1] if finite(pair[1]) else float("-inf"), reverse=True)


def _method(importance) -> str | None:
    return importance.get("method") if isinstance(importance, dict) and isinstance(importance.get("method"), str) else None


def feature_importance_chart(rows: Sequence[tuple[str, float | None]], method: str | None = None) -> str | None:
    if not rows:
        return None
    shown = list(rows[:MAX_IMPORTANCE_BARS])
    more = f" (the top {len(shown)} of {len(rows)})" if len(rows) > len(shown) else ""
    unit = CONTRIBUTION_UNITS.get(method or "")
    return bar_chart(f"Feature importance{more}", shown, value=Axis(f"Mean |contribution|, in {unit}" if unit else "Mean |contribution|"),
                     description=f"Mean absolute contribution of each feature to {unit or 'the score'}.")


def metric_history_chart(metric: str, retrains: Sequence[dict]) -> str | None:
    """retrains: {"at": datetime, "value": float, "shipped": bool, "job_id": str}, any order."""
    points = sorted((r for r in retrains if finite(r.get("value")) and r.get("at") is not None), key=lambda r: r["at"])
    if not points:
        return None
    at = [_seconds(r["at"]) for r in points]
    tip = [f"{r['at']:%Y-%m-%d %H:%M} job {r['job_id']}: {metric} {number(r['value'])}"
           f" {'SHIPPED' if r.get('shipped') else 'NOT SHIPPED'}" for r in points]
    shipped = [i for i, r in enumerate(points) if r.get("shipped")]
    others = [i for i, r in enumerate(points) if not r.get("shipped")]
    series = [Series(metric, list(zip(at, (r["value"] for r in points))), REFERENCE, markers="none")]
    if shipped:
        series.append(Series("SHIPPED", [(at[i], points[i]["value"]) for i in shipped], Style(style(2).colour, "", "square"),
                             line=False, markers="all", tips=[tip[i] for i in shipped]))
    if others:
        series.append(Series("NOT SHIPPED", [(at[i], points[i]["value"]) for i in others], Style(style(1).colour, "", "circle"),
                             line=False, markers="all", filled=False, tips=[tip[i] for i in others]))
    highest = max(max(r["value"] for r in points), 0.0)
    lowest = min(min(r["value"] for r in points), 0.0)  # from zero: a change reads at its true size
    return line_chart(f"Holdout {metric} of each retrain", series, x=Axis("Trained", kind="time"),
                      y=Axis(metric, (lowest, highest * 1.05 or 1.0)))


def drawn(charts: Sequence[tuple[str, Callable[[], str | None]]]) -> list[Figure]:
    """The charts that could be drawn, in order. The data comes from files a job wrote: a chart whose data is
    malformed (a string where numbers belong, a list cut short) is left out and logged, as an absent one is."""
    figures = []
    for key, draw in charts:
        try:
            svg = draw()
        except Exception as exc:  # noqa: BLE001 - one malformed chart must not take the page down
            log.warning("chart %s left out: %s: %s", key, type(exc).__name__, str(exc)[:200])
            continue
        if svg:
            figures.append(Figure(key, svg))
    return figures


def job_figures(charts: dict | None, result: dict | None, importance=None) -> list[Figure]:
    """Every chart of one job, in page order."""
    runs = {"model": charts}

    def steps() -> list[dict]:
        return _steps(charts, result)

    curve = (result or {}).get("learning_curve") if isinstance(result, dict) else None
    return drawn([
        ("roc", lambda: roc_chart(runs)),
        ("precision-recall", lambda: precision_recall_chart(runs)),
        ("calibration", lambda: calibration_chart(runs)),
        ("score-histogram", lambda: score_histogram_chart(charts)),
        ("forecast", lambda: forecast_chart(charts)),
        ("predicted-vs-actual", lambda: predicted_vs_actual_chart(charts)),
        ("residuals", lambda: residual_histogram_chart(charts)),
        ("learning-curve", lambda: learning_curve_chart({"model": curve})),
        ("feature-importance", lambda: feature_importance_chart(importance_rows(importance), _method(importance))
         if importance is not None else None),
        ("step-time", lambda: step_time_chart(steps())),
        ("step-memory", lambda: step_memory_chart(steps())),
    ])


def compare_figures(a: tuple[dict | None, dict | None], b: tuple[dict | None, dict | None]) -> list[Figure]:
    """The curves of two jobs overlaid: a and b are each (charts.json, result)."""
    runs = {"A": a[0], "B": b[0]}
    curves = {name: result.get("learning_curve") if isinstance(result, dict) else None for name, result in (("A", a[1]), ("B", b[1]))}
    return drawn([
        ("roc", lambda: roc_chart(runs)),
        ("precision-recall", lambda: precision_recall_chart(runs)),
        ("calibration", lambda: calibration_chart(runs)),
        ("learning-curve", lambda: learning_curve_chart(curves)),
    ])
