"""Vega-Lite specs of the pages' interactive charts: a sweep's best-so-far and parallel coordinates, and learning
and ROC curves of many runs overlaid. Pure functions from numbers to JSON-ready dicts; the pages draw them with
the vendored vega-embed (static/railyard.js), with hover values and zoom. The single-run charts of a job page and
of report.html stay the server-drawn SVG of railyard.report.charts, which needs no script.
"""

from __future__ import annotations

import math

from railyard.report.svg import finite

SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"
WIDTH, HEIGHT = 520, 300
MAX_CURVE_POINTS = 200  # of one run's curve, thinned evenly
CANVAS_ABOVE = 20_000  # points: a chart with more is drawn on a canvas, not as SVG elements
ZOOM = [{"name": "zoom", "select": "interval", "bind": "scales"}]


def _chart(title: str, data: list[dict], **body) -> dict:
    return {"$schema": SCHEMA, "title": title, "width": WIDTH, "height": HEIGHT, "data": {"values": data},
            "usermeta": {"renderer": "canvas" if len(data) > CANVAS_ABOVE else "svg"}, **body}


def thinned(points: list, limit: int = MAX_CURVE_POINTS) -> list:
    if len(points) <= limit:
        return points
    stride = math.ceil(len(points) / limit)
    return points[::stride] + ([points[-1]] if (len(points) - 1) % stride else [])


def best_so_far(trials: list[dict], metric: str, direction: str) -> dict:
    """Each trial's value by trial number, and the best of those so far as a step line. `trials`: {number, value,
    state}, a value None for a trial that has none."""
    rows, best = [], None
    better = max if direction == "maximize" else min
    for trial in sorted(trials, key=lambda t: t["number"]):
        value = trial["value"] if finite(trial["value"]) else None
        if value is not None:
            best = value if best is None else better(best, value)
        rows.append({"trial": trial["number"], "value": value, "best": best, "state": trial["state"]})
    x = {"field": "trial", "type": "quantitative", "title": "trial", "axis": {"tickMinStep": 1}}
    return _chart(f"Best {metric} so far", rows, layer=[
        {"mark": {"type": "line", "interpolate": "step-after", "color": "#0969da"},
         "encoding": {"x": x, "y": {"field": "best", "type": "quantitative", "title": metric, "scale": {"zero": False}}}},
        {"mark": {"type": "point", "filled": True, "size": 50}, "params": ZOOM,
         "encoding": {"x": x, "y": {"field": "value", "type": "quantitative", "title": metric},
                      "color": {"field": "state", "type": "nominal", "title": "trial"},
                      "tooltip": [{"field": "trial"}, {"field": "state"}, {"field": "value", "format": ".5~g", "title": metric},
                                  {"field": "best", "format": ".5~g", "title": "best so far"}]}},
    ])


def parallel_coordinates(trials: list[dict], paths: list[str], metric: str) -> dict:
    """One line per trial across an axis per path and one for the metric, each axis scaled to its own range
    (a categorical path's values in the order first seen); hovering a line shows the trial's actual values.
    `trials`: {number, value, state, values: {path: value}}."""
    axes = [*paths, metric]
    raw = {t["number"]: {**t["values"], metric: t["value"]} for t in trials}
    scales = {axis: _axis_scale([raw[n].get(axis) for n in raw]) for axis in axes}
    rows = []
    for trial in trials:
        for axis in axes:
            position = scales[axis](raw[trial["number"]].get(axis))
            if position is not None:
                rows.append({"trial": trial["number"], "axis": _short(axis), "position": position,
                             "shown": _shown(raw[trial["number"]].get(axis)), "value": trial["value"], "state": trial["state"]})
    color = {"field": "value", "type": "quantitative", "title": metric, "scale": {"scheme": "viridis"}}
    return _chart(f"Parameters against {metric}", rows, width=max(WIDTH, 140 * len(axes)), mark={"type": "line", "point": True},
                  encoding={"x": {"field": "axis", "type": "nominal", "sort": [_short(a) for a in axes], "title": None,
                                  "axis": {"labelAngle": 0}},
                            "y": {"field": "position", "type": "quantitative", "axis": None, "scale": {"domain": [0, 1]}},
                            "detail": {"field": "trial", "type": "nominal"}, "color": color,
                            "tooltip": [{"field": "trial"}, {"field": "axis"}, {"field": "shown", "title": "value"},
                                        {"field": "value", "format": ".5~g", "title": metric}, {"field": "state"}]})


def _short(path: str) -> str:
    return path.removeprefix("train.custom_params.")


def _shown(value) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _axis_scale(values: list):
    """A function from an axis's value to its position in [0, 1]; None for a value the axis cannot place."""
    numbers = [float(v) for v in values if finite(v)]
    if numbers and len(numbers) == len([v for v in values if v is not None]):
        low, high = min(numbers), max(numbers)
        span = high - low  # inf when the values span more than a float holds: each then at its rank
        if not math.isfinite(span):
            distinct = sorted(set(numbers))
            ranks = {value: index / max(1, len(distinct) - 1) for index, value in enumerate(distinct)}
            return lambda v: ranks[float(v)] if finite(v) else None
        return lambda v: (0.5 if span == 0 else (v - low) / span) if finite(v) else None
    order = {value: index for index, value in enumerate(dict.fromkeys(str(v) for v in values if v is not None))}
    return lambda v: None if v is None else (0.5 if len(order) == 1 else order[str(v)] / (len(order) - 1))


def curves(title: str, runs: list[dict], *, x: str, y: str, x_title: str, y_title: str, dashed_holdout: bool = False) -> dict:
    """Many runs' curves overlaid, one color per run. `runs`: {label, points: [{x field, y field, ...}]}, thinned
    by the caller; with `dashed_holdout`, points carry `set` (training or holdout) and the training lines are dashed."""
    rows = [{"run": run["label"], **point} for run in runs for point in run["points"]]
    encoding = {"x": {"field": x, "type": "quantitative", "title": x_title},
                "y": {"field": y, "type": "quantitative", "title": y_title, "scale": {"zero": False}},
                "color": {"field": "run", "type": "nominal", "legend": {"title": None} if len(runs) <= 20 else None},
                "detail": {"field": "set" if dashed_holdout else "run", "type": "nominal"},
                "tooltip": [{"field": "run"}, {"field": x, "title": x_title}, {"field": y, "format": ".5~g", "title": y_title}]}
    if dashed_holdout:
        encoding["strokeDash"] = {"field": "set", "type": "nominal", "title": None, "sort": ["holdout", "training"]}
        encoding["tooltip"].append({"field": "set"})
    return _chart(title, rows, mark={"type": "line", "strokeWidth": 1.5, "opacity": 0.8}, params=ZOOM, encoding=encoding)


def learning_curve_points(curve: dict | None, limit: int = MAX_CURVE_POINTS, sets: tuple[str, ...] = ("holdout", "training")) -> list[dict]:
    """A result's or progress file's learning curve as rows {iteration, loss, set} of each of `sets`, at most
    `limit` rounds of it (thinned evenly)."""
    points = (curve or {}).get("points") if isinstance(curve, dict) else None
    kept = [p for p in thinned(points, limit) if isinstance(p, dict) and finite(p.get("iteration"))] if isinstance(points, list) else []
    return [{"iteration": point["iteration"], "loss": short(point[name]), "set": name} for point in kept for name in sets if finite(point.get(name))]


def short(value: float) -> float:
    """A value to the precision a chart shows and its hover tells: four significant digits."""
    return float(f"{value:.4g}")
