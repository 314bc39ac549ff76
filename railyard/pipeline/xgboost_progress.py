"""XGBoost training reported to a ProgressReporter: a training callback, and the automatic reporting
that adds it to every `xgboost.train` (which the scikit-learn API's `fit` calls) while the train step runs,
with the run's checkpoints (`railyard.checkpoint.xgboost_loop`) when it has them.

Imported only where XGBoost already is: a trainer of another library never imports it.

The losses are read from XGBoost's evaluation log, for its last metric (the one
early stopping watches). An eval set whose name contains "train" is the training
set; otherwise, with two or more, the first is (as in `eval_set=[(X, y), (X_holdout,
y_holdout)]`). The last other one is the holdout set.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import sys
from contextlib import contextmanager

import xgboost
from xgboost.callback import TrainingCallback

from railyard.checkpoint import preemption, xgboost_loop


def losses(evals_log: dict) -> tuple[str | None, float | None, float | None]:
    """(metric, training loss, holdout loss) of the latest round in an XGBoost evaluation log."""
    names = list(evals_log)
    if not names:
        return None, None, None
    training = next((n for n in names if "train" in n.lower()), names[0] if len(names) > 1 else None)
    others = [n for n in names if n != training]
    holdout = others[-1] if others else None
    metric = list(evals_log[holdout or training])[-1] if evals_log[holdout or training] else None

    def latest(name):
        history = evals_log.get(name, {}).get(metric) if name and metric else None
        if not history:
            return None
        value = history[-1]
        return float(value[0] if isinstance(value, tuple) else value)

    return metric, latest(training), latest(holdout)


class ProgressCallback(TrainingCallback):
    """Reports each boosting round. A pickled copy (a model that kept it among its parameters) reports nothing.
    A loop resumed after `start` rounds counts on from there, its learning curve so far being `points`."""

    def __init__(self, reporter, total: int | None = None, start: int = 0, points: list | None = None):
        super().__init__()
        self.reporter = reporter
        self.total = total
        self.start = start
        self.points = points or []
        self.rounds = start

    def before_training(self, model):
        self.rounds = self.start
        if self.reporter is not None:
            self.reporter.begin(total=self.total, unit="iteration")
            self.reporter.restore(self.points)
        return model

    def after_iteration(self, model, epoch: int, evals_log) -> bool:
        self.rounds += 1
        if self.reporter is not None:
            metric, training, holdout = losses(evals_log)
            self.reporter.report(self.rounds, self.total, training=training, holdout=holdout, metric=metric)
        return False

    def after_training(self, model):
        if self.reporter is not None:
            self.reporter.end()
        return model

    def __getstate__(self) -> dict:
        return {"reporter": None, "total": self.total, "start": self.start, "points": [], "rounds": self.rounds}


def _reporting(train, reporter, checkpoints, exact: bool):
    loops = itertools.count()

    @functools.wraps(train)
    def reported_train(params, dtrain, num_boost_round=10, *args, callbacks=None, **kwargs):
        callbacks, loop = list(callbacks or []), next(loops)
        settings = dict(params.items() if isinstance(params, dict) else params)
        continued = kwargs.get("xgb_model") is not None  # the workflow goes on from a booster of its own
        resumed, saving = xgboost_loop.Resumed(), contextlib.nullcontext()
        if checkpoints is not None and not continued:
            why_not = xgboost_loop.not_exact_because(settings, callbacks, kwargs.get("early_stopping_rounds"), exact)
            threads = xgboost_loop.threads(settings)
            resumed = xgboost_loop.resume(checkpoints, loop, why_not, threads)
            kwargs["xgb_model"] = resumed.booster
            points = lambda: (reporter.learning_curve() or {}).get("points", [])  # noqa: E731
            callbacks.append(xgboost_loop.CheckpointCallback(checkpoints, loop, resumed, num_boost_round, points, threads))
            saving = preemption.checkpointing()
        if exact and not continued and xgboost_loop.samples(settings):  # whether or not checkpoints are on: one model
            params = xgboost_loop.seeded(params)
            callbacks.append(xgboost_loop.SeededRounds(resumed.rounds))
        ours = [c for c in callbacks if isinstance(c, ProgressCallback) and c.reporter is reporter]
        for callback in ours:
            callback.total = callback.total or num_boost_round
            callback.start, callback.points = resumed.rounds, resumed.curve
        if not ours:
            callbacks.insert(0, ProgressCallback(reporter, num_boost_round, resumed.rounds, resumed.curve))
        with saving:
            booster = train(params, dtrain, max(num_boost_round - resumed.rounds, 0), *args, callbacks=callbacks, **kwargs)
        history = kwargs.get("evals_result")
        if resumed.history and history is not None:
            history.update(xgboost_loop.joined(resumed.history, history))
        return booster

    return reported_train


@contextmanager
def reporting_xgboost(reporter, checkpoints=None, exact: bool = True):
    """While inside, `xgboost.train` (as the scikit-learn API reaches it, too) reports to `reporter`, given
    the run's `checkpoints` writes them and resumes from them, and with `exact` draws a sampling loop's samples
    from each round alone (xgboost_loop.SeededRounds); the original functions are back on the way out, even on
    error."""
    modules = [xgboost, xgboost.training] + [sys.modules[m] for m in ("xgboost.sklearn",) if m in sys.modules]
    originals = [(module, module.train) for module in modules]
    try:
        for module, train in originals:
            module.train = _reporting(train, reporter, checkpoints, exact)
        yield
    finally:
        for module, train in originals:
            module.train = train
