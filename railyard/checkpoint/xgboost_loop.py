"""Checkpoints of an `xgboost.train` loop (which the scikit-learn API's `fit` calls too).

`CheckpointCallback` saves the booster, the evaluation history and the learning
curve on the run's schedule, and when SIGTERM asks, then stops the run. `resume`
finds the loop's newest checkpoint: the booster goes to `xgboost.train` as
`xgb_model` with the rounds left, and the history is put back in front of the
new one, so that a fitted scikit-learn model (which keeps it) is the same too.

On the CPU, without sampling, a resumed loop ends with the very booster an
uninterrupted one does. XGBoost's row and column sampling draw from a random
state the saved booster does not carry, dart drops trees at random, GPU
histograms sum in no fixed order, and early stopping's count starts over: such
loops resume with `exact: false` in result.json.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import xgboost
from xgboost.callback import EarlyStopping, TrainingCallback

from railyard.checkpoint import preemption
from railyard.checkpoint.store import Checkpoint, Checkpoints

LIBRARY = "xgboost"
BOOSTER = "model.ubj"
SAMPLING = ("subsample", "colsample_bytree", "colsample_bylevel", "colsample_bynode")


def not_exact_because(params: dict, callbacks: list, early_stopping_rounds) -> str | None:
    """Why a resumed loop with these settings may end with another booster than an uninterrupted one; None: it will not."""
    params = dict(params.items() if isinstance(params, dict) else params)
    if any(_number(params.get(name), 1.0) < 1 for name in SAMPLING):
        return "XGBoost's row and column sampling go on from a random state a saved booster does not keep"
    if params.get("booster") == "dart":
        return "dart drops trees at random, from a state a saved booster does not keep"
    if str(params.get("device", "cpu")).startswith(("cuda", "gpu")):
        return "GPU training sums histograms in no fixed order"
    if early_stopping_rounds or any(isinstance(c, EarlyStopping) for c in callbacks):
        return "early stopping counts its rounds without improvement again from the resume"
    return None


def _number(value, default: float) -> float:
    try:
        return float(value) if value is not None else default
    except (TypeError, ValueError):
        return default


@dataclass
class Resumed:
    """Where a loop starts: the rounds done, the booster after them, what it had evaluated and reported."""

    rounds: int = 0
    booster: xgboost.Booster | None = None
    history: dict = field(default_factory=dict)
    curve: list = field(default_factory=list)


def resume(checkpoints: Checkpoints, loop: int, why_not_exact: str | None) -> Resumed:
    found = checkpoints.newest()
    if found is None or found.loop != loop or found.library != LIBRARY or BOOSTER not in found.files:
        return Resumed()
    booster = xgboost.Booster()
    booster.load_model(bytearray(found.files[BOOSTER]))
    checkpoints.resuming(found, exact=why_not_exact is None, why_not=why_not_exact)
    return Resumed(found.iteration, booster, found.state.get("history") or {}, found.state.get("curve") or [])


def joined(earlier: dict, later: dict) -> dict:
    """An evaluation history {data: {metric: [value per round]}}: the rounds before a resume, then those after."""
    names = list(dict.fromkeys([*earlier, *later]))
    return {name: {metric: list(earlier.get(name, {}).get(metric, [])) + list(later.get(name, {}).get(metric, []))
                   for metric in dict.fromkeys([*earlier.get(name, {}), *later.get(name, {})])}
            for name in names}


class CheckpointCallback(TrainingCallback):
    """Saves the loop on the schedule and when SIGTERM asked (then raises `Preempted`). `curve` gives the
    learning curve's points so far, saved with the booster."""

    def __init__(self, checkpoints: Checkpoints, loop: int, resumed: Resumed, total: int, curve):
        super().__init__()
        self.checkpoints = checkpoints
        self.loop = loop
        self.resumed = resumed
        self.interval = checkpoints.schedule.interval(total)
        self.curve = curve
        self._saved_at = time.monotonic()

    def after_iteration(self, model, epoch: int, evals_log) -> bool:
        done = self.resumed.rounds + epoch + 1
        asked = preemption.asked()
        due = (self.interval is not None and done % self.interval == 0
               or time.monotonic() - self._saved_at >= self.checkpoints.schedule.every_seconds)
        if due or asked:
            self.save(model, done, evals_log)
        if asked:
            raise preemption.Preempted(f"stopped by SIGTERM at iteration {done}, after writing a checkpoint; "
                                       "the same command resumes from it")
        return False

    def save(self, model: xgboost.Booster, done: int, evals_log) -> None:
        if not self.checkpoints.writes:  # another worker than the first: the first writes the job's
            return
        state = {"history": joined(self.resumed.history, dict(evals_log)), "curve": self.curve()}
        self.checkpoints.save(Checkpoint(loop=self.loop, iteration=done, library=LIBRARY, state=state,
                                         files={BOOSTER: bytes(model.save_raw("ubj"))}))
        self._saved_at = time.monotonic()
