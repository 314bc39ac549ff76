"""XGBoost training reported to a ProgressReporter: a training callback, and the automatic reporting
that adds it to every `xgboost.train` (which the scikit-learn API's `fit` calls) while the train step runs.

Imported only where XGBoost already is: a trainer of another library never imports it.

The losses are read from XGBoost's evaluation log, for its last metric (the one
early stopping watches). An eval set whose name contains "train" is the training
set; otherwise, with two or more, the first is (as in `eval_set=[(X, y), (X_holdout,
y_holdout)]`). The last other one is the holdout set.
"""

from __future__ import annotations

import functools
import sys
from contextlib import contextmanager

import xgboost
from xgboost.callback import TrainingCallback


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
    """Reports each boosting round. A pickled copy (a model that kept it among its parameters) reports nothing."""

    def __init__(self, reporter, total: int | None = None):
        super().__init__()
        self.reporter = reporter
        self.total = total
        self.rounds = 0

    def before_training(self, model):
        self.rounds = 0
        if self.reporter is not None:
            self.reporter.begin(total=self.total, unit="iteration")
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
        return {"reporter": None, "total": self.total, "rounds": self.rounds}


def _reporting(train, reporter):
    @functools.wraps(train)
    def reported_train(params, dtrain, num_boost_round=10, *args, callbacks=None, **kwargs):
        callbacks = list(callbacks or [])
        ours = [c for c in callbacks if isinstance(c, ProgressCallback) and c.reporter is reporter]
        for callback in ours:
            callback.total = callback.total or num_boost_round
        if not ours:
            callbacks.append(ProgressCallback(reporter, num_boost_round))
        return train(params, dtrain, num_boost_round, *args, callbacks=callbacks, **kwargs)

    return reported_train


@contextmanager
def reporting_xgboost(reporter):
    """While inside, `xgboost.train` (as the scikit-learn API reaches it, too) reports to `reporter`;
    the original functions are back on the way out, even on error."""
    modules = [xgboost, xgboost.training] + [sys.modules[m] for m in ("xgboost.sklearn",) if m in sys.modules]
    originals = [(module, module.train) for module in modules]
    try:
        for module, train in originals:
            module.train = _reporting(train, reporter)
        yield
    finally:
        for module, train in originals:
            module.train = train
