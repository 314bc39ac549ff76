"""Training progress: where a workflow's training loop is, and its learning curve.

A `ProgressReporter` is `self.progress` inside `Workflow.train`. A workflow calls
`report(iteration, total, training=..., holdout=..., metric=...)` once per
boosting round or epoch; XGBoost training reports by itself while the train
step runs (`railyard.pipeline.xgboost_progress`). Each report:

- is logged to the trainer log (logger `railyard`) at a bounded rate: the first
  of a training loop, then at most one line every `interval_s` (2 s, or
  $RAILYARD_PROGRESS_SECONDS), and the last;
- replaces progress.json in the job's output at the same moments;
- adds a point to the learning curve, which keeps at most MAX_POINTS points
  (thinned evenly as it grows, the first and the latest always kept).

A report whose iteration is not past the previous one starts a new training
loop, and a new curve: the curve in result.json is that of the last loop.
"""

from __future__ import annotations

import json
import logging
import math
import numbers
import os
import sys
import time
from contextlib import contextmanager, nullcontext
from typing import Callable

from railyard.errors import RailyardError
from railyard.run_layout import PROGRESS
from railyard.result import now
from railyard.storage import Store

INTERVAL_ENV = "RAILYARD_PROGRESS_SECONDS"
DEFAULT_INTERVAL_S = 2.0
MAX_POINTS = 1000
LIVE_POINTS = 200  # of the learning curve in progress.json, which a page reads while the job runs
CURVE_ROWS = 50_000  # rows a learning curve is measured on, per set
UNITS = ("iteration", "epoch")
log = logging.getLogger("railyard")


def interval_from_env() -> float:
    try:
        value = float(os.environ.get(INTERVAL_ENV, DEFAULT_INTERVAL_S))
    except ValueError:
        return DEFAULT_INTERVAL_S
    return value if math.isfinite(value) and value >= 0 else DEFAULT_INTERVAL_S


class LearningCurve:
    """The points of one training loop, at most `limit`: every `stride`-th point is kept, and the stride
    doubles whenever more than `limit` are kept; the latest point is always added at the end."""

    def __init__(self, limit: int = MAX_POINTS):
        if limit < 2:
            raise ValueError(f"learning curve limit: expected at least 2 points, got {limit}")
        self.limit = limit
        self.stride = 1
        self.count = 0
        self.kept: list[dict] = []
        self.latest: dict | None = None

    def add(self, point: dict) -> None:
        if self.count % self.stride == 0:
            self.kept.append(point)
            if len(self.kept) > self.limit:
                self.kept = self.kept[::2]
                self.stride *= 2
        self.count += 1
        self.latest = point

    def points(self) -> list[dict]:
        points = list(self.kept)
        if self.latest is not None and (not points or points[-1] is not self.latest):
            points.append(self.latest)
        if len(points) > self.limit:
            del points[-2]
        return points


def _loss(name: str, value) -> float | None:
    if value is None:
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"progress.report: {name} must be a number or None, got {value!r}") from None
    return value if math.isfinite(value) else None


class ProgressReporter:
    """Progress of the train step: log lines, progress.json (when given a store) and the learning curve."""

    def __init__(self, store: Store | None = None, *, step: str = "train", interval_s: float | None = None,
                 clock: Callable[[], float] = time.monotonic, max_points: int = MAX_POINTS):
        self.store = store
        self.step = step
        self.interval_s = interval_from_env() if interval_s is None else interval_s
        self.clock = clock
        self.max_points = max_points
        self.curve: LearningCurve | None = None
        self.total: int | None = None
        self.unit = "iteration"
        self.metric: str | None = None
        self.document: dict | None = None
        self._started = clock()
        self._last_iteration: int | None = None
        self._shown_at: float | None = None
        self._first: tuple[int, float] | None = None
        self._pending = False
        self._write_failed = False

    @staticmethod
    def curve_sample(features, label, rows: int = CURVE_ROWS) -> tuple:
        """At most `rows` evenly spaced rows of (features, label): an eval set for the learning curve. Its shape needs
        few rows, and evaluating every training and holdout row each round cost a third of an XGBoost fit; the holdout
        metrics are computed on every row afterwards. DataFrames, Series and arrays alike; the same rows every run."""
        step = -(-len(features) // rows) if rows > 0 else 1
        if step <= 1:
            return features, label
        pick = (lambda data: data.iloc[::step]) if hasattr(features, "iloc") else (lambda data: data[::step])
        return pick(features), (label.iloc[::step] if hasattr(label, "iloc") else label[::step])

    def begin(self, total: int | None = None, unit: str = "iteration", metric: str | None = None,
              started: float | None = None) -> None:
        """Start a new training loop (and a new learning curve) of `total` iterations or epochs."""
        if unit not in UNITS:
            raise ValueError(f"progress: unit must be one of {', '.join(UNITS)}, got {unit!r}")
        self.end()
        self.curve = LearningCurve(self.max_points)
        self.total = _whole("total", total) if total is not None else None
        self.unit, self.metric = unit, metric
        self._started = self.clock() if started is None else started
        self._last_iteration = None
        self._shown_at = None
        self._first = None

    def restore(self, points: list[dict]) -> None:
        """Put back the learning curve of a loop resumed from a checkpoint; reports go on after its last point."""
        for point in points:
            self.curve.add({"iteration": _whole("iteration", point["iteration"]), "training": _loss("training", point.get("training")),
                            "holdout": _loss("holdout", point.get("holdout"))})
            self._last_iteration = point["iteration"]

    def report(self, iteration: int, total: int | None = None, *, training: float | None = None,
               holdout: float | None = None, metric: str | None = None, unit: str | None = None) -> None:
        """Iteration `iteration` (from 1) of `total` is done; `training`/`holdout`: its loss on each, in `metric`."""
        iteration = _whole("iteration", iteration)
        training, holdout = _loss("training", training), _loss("holdout", holdout)
        if self.curve is None or (self._last_iteration is not None and iteration <= self._last_iteration):
            first_loop = self.curve is None
            self.begin(total, unit or self.unit, metric or self.metric,
                       started=self._started if first_loop else self.clock())
        elif unit is not None and unit != self.unit:
            raise ValueError(f"progress.report: unit {unit!r} changed within a training loop of {self.unit}s")
        if total is not None:
            self.total = _whole("total", total)
        self.metric = self.metric or metric
        self._last_iteration = iteration
        self.curve.add({"iteration": iteration, "training": training, "holdout": holdout})

        at = self.clock()
        elapsed = max(at - self._started, 0.0)
        if self._first is None:
            self._first = (iteration, at)
        remaining = None
        if self.total is not None and iteration > self._first[0]:  # the pace since the first report: past any warm-up
            remaining = (at - self._first[1]) / (iteration - self._first[0]) * max(self.total - iteration, 0)
        elif self.total is not None and elapsed > 0:
            remaining = elapsed / iteration * max(self.total - iteration, 0)
        self.document = {
            "step": self.step, "iteration": iteration, "total": self.total, "unit": self.unit,
            "elapsed_s": round(elapsed, 2), "remaining_s": None if remaining is None else round(remaining, 2),
            "metric": self.metric, "training": training, "holdout": holdout, "updated_at": now(),
        }
        self._pending = True
        last = self.total is not None and iteration >= self.total
        if self._shown_at is None or at - self._shown_at >= self.interval_s or last:
            self._show(at)

    def end(self) -> None:
        """The training loop ended: show its latest report if it has not been shown."""
        if self._pending:
            self._show(self.clock())

    def start_step(self) -> None:
        """The train step begins: progress.json names the step before any iteration is reported."""
        self._started = self.clock()
        self._write({"step": self.step, "iteration": None, "total": None, "unit": None, "elapsed_s": 0.0,
                     "remaining_s": None, "metric": None, "training": None, "holdout": None, "updated_at": now()})

    @contextmanager
    def train_step(self, checkpoints=None, exact: bool = True):
        """Around `workflow.train`: XGBoost training, where XGBoost is imported, reports here by itself
        (undone on the way out, even on error), with the run's `checkpoints` writes and resumes from
        them, and with `exact` (the spec's `checkpoints.exact`) draws each round's samples from the round alone;
        the last report is shown at the end."""
        self.start_step()
        automatic = nullcontext()
        if "xgboost" in sys.modules:
            from railyard.pipeline.xgboost_progress import reporting_xgboost

            automatic = reporting_xgboost(self, checkpoints, exact)
        try:
            with automatic:
                yield self
        finally:
            self.end()

    def xgboost_callback(self, total: int | None = None):
        """An `xgboost.callback.TrainingCallback` that reports each boosting round here (for `xgboost.train`)."""
        from railyard.pipeline.xgboost_progress import ProgressCallback

        return ProgressCallback(self, total)

    def learning_curve(self) -> dict | None:
        """result.json's `learning_curve`, or None when training reported nothing."""
        if self.curve is None or self.curve.latest is None:
            return None
        return {"metric": self.metric, "unit": self.unit, "total": self.total, "points": self.curve.points()}

    def line(self) -> str:
        d = self.document
        count = f"{d['iteration']}/{d['total']}" if d["total"] is not None else str(d["iteration"])
        parts = [f"{d['unit']} {count}", f"elapsed {d['elapsed_s']:.1f}s"]
        if d["remaining_s"] is not None:
            parts.append(f"left {d['remaining_s']:.1f}s")
        parts += [f"{name} {d['metric'] or 'loss'} {d[name]:.6g}" for name in ("training", "holdout") if d[name] is not None]
        return f"[railyard] {self.step} progress: {', '.join(parts)}"

    def _show(self, at: float) -> None:
        self._shown_at = at
        self._pending = False
        log.info(self.line())
        points = self.curve.points() if self.curve is not None else []
        stride = -(-(len(points) - 1) // (LIVE_POINTS - 1)) or 1  # the first LIVE_POINTS - 1, spread, and the latest
        self._write({**self.document, "points": points[:-1:stride] + points[-1:]})

    def _write(self, document: dict) -> None:
        if self.store is None:
            return
        try:
            self.store.write_text(PROGRESS, json.dumps(document) + "\n")
        except (RailyardError, OSError) as exc:
            if not self._write_failed:
                log.warning(f"[railyard] warning: cannot write {PROGRESS}, training goes on: {exc}")
            self._write_failed = True


def _whole(name: str, value) -> int:
    number = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if not number or value != int(value) or value < 1:
        raise ValueError(f"progress.report: {name} must be a whole number of at least 1, got {value!r}")
    return int(value)
