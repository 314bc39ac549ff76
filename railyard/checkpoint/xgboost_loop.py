"""Checkpoints of an `xgboost.train` loop (which the scikit-learn API's `fit` calls too).

`CheckpointCallback` saves the booster, the evaluation history and the learning
curve on the run's schedule, and when SIGTERM asks, then stops the run. `resume`
finds the loop's newest checkpoint: the booster goes to `xgboost.train` as
`xgb_model` with the rounds left, and the history is put back in front of the
new one, so that a fitted scikit-learn model (which keeps it) is the same too.

On the CPU a resumed loop ends with the very booster an uninterrupted one does.
XGBoost 3.2 draws its row and column samples (and dart's drops) from a random
state that a saved booster does not carry, so a loop that samples is trained in
`SeededRounds`: every round's draws follow from the seed and the round's number
alone, in the uninterrupted run and in the resumed one (unless the spec's
`checkpoints.exact` is false). GPU histograms sum in no
fixed order, histograms and row samples are split by thread, and early
stopping's count starts over: such loops resume with `exact: false` in
result.json.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import xgboost
from xgboost.callback import EarlyStopping, LearningRateScheduler, TrainingCallback

from railyard.checkpoint import preemption
from railyard.checkpoint.store import Checkpoint, Checkpoints

LIBRARY = "xgboost"
BOOSTER = "model.ubj"
SAMPLING = ("subsample", "colsample_bytree", "colsample_bylevel", "colsample_bynode")


def samples(params: dict) -> bool:
    """Whether a loop with these settings draws at random: row or column sampling, dart's drops, or the linear
    booster's shuffled or random feature order."""
    return (any(_number(params.get(name), 1.0) < 1 for name in SAMPLING) or params.get("booster") == "dart"
            or params.get("feature_selector") in ("shuffle", "random"))


def seeded(params):
    """`params` for a loop that samples, with each round seeded from its number (`SeededRounds`)."""
    return {**params, "seed_per_iteration": True} if isinstance(params, dict) else [*params, ("seed_per_iteration", True)]


def threads(params: dict) -> int:
    """The threads XGBoost trains on: its `nthread` where set, at most what OpenMP and the CPU quota allow.
    Its histograms, and its row samples, are split by thread: another count may give another booster."""
    limits = [len(os.sched_getaffinity(0)), _number(os.environ.get("OMP_NUM_THREADS", "").split(",")[0] or None, 0)]
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        limits.append(-(-int(quota) // int(period)) if quota != "max" else 0)
    except (OSError, ValueError, ArithmeticError):
        pass
    allowed = min(int(n) for n in limits if 0 < n < math.inf)
    asked = int(_number(params.get("nthread", params.get("n_jobs")), 0))
    return min(asked, allowed) if asked > 0 else allowed


def not_exact_because(params: dict, callbacks: list, early_stopping_rounds, exact: bool) -> str | None:
    """Why a resumed loop with these settings may end with another booster than an uninterrupted one; None: it will not.
    `exact`: the spec's `checkpoints.exact`."""
    if samples(params) and not exact:
        return "it samples as XGBoost does (checkpoints.exact is false), from a random state a saved booster does not keep"
    if str(params.get("device", "cpu")).startswith(("cuda", "gpu")):
        return "GPU training sums histograms in no fixed order"
    if early_stopping_rounds or any(isinstance(c, EarlyStopping) for c in callbacks):
        return "early stopping counts its rounds without improvement again from the resume"
    if any(isinstance(c, LearningRateScheduler) for c in callbacks):
        return "a LearningRateScheduler counts its rounds again from the resume"
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


def resume(checkpoints: Checkpoints, loop: int, why_not_exact: str | None, threads_now: int) -> Resumed:
    """The loop's newest checkpoint, if any; one written on another number of threads is resumed from, but not
    exactly."""
    found = checkpoints.newest()
    if found is None or found.loop != loop or found.library != LIBRARY or BOOSTER not in found.files:
        return Resumed()
    booster = xgboost.Booster()
    booster.load_model(bytearray(found.files[BOOSTER]))
    threads_then = found.state.get("threads", threads_now)
    if why_not_exact is None and threads_then != threads_now:
        why_not_exact = (f"it trained on {threads_then} threads before the resume and on {threads_now} after: "
                         "XGBoost splits its histograms and row samples by thread")
    checkpoints.resuming(found, exact=why_not_exact is None, why_not=why_not_exact)
    return Resumed(found.iteration, booster, found.state.get("history") or {}, found.state.get("curve") or [])


def joined(earlier: dict, later: dict) -> dict:
    """An evaluation history {data: {metric: [value per round]}}: the rounds before a resume, then those after."""
    names = list(dict.fromkeys([*earlier, *later]))
    return {name: {metric: list(earlier.get(name, {}).get(metric, [])) + list(later.get(name, {}).get(metric, []))
                   for metric in dict.fromkeys([*earlier.get(name, {}), *later.get(name, {})])}
            for name in names}


class SeededRounds(TrainingCallback):
    """Each round draws from a random state that follows from the seed and the round's number alone, so that a
    loop resumed after `done` rounds draws what the uninterrupted loop drew in the same rounds.

    XGBoost reseeds its random state at each round from the round's number it is given (`seed_per_iteration`,
    in `seeded` params); `xgboost.train` counts from 0 again after a resume, so the booster's `update` is given
    the rounds done before it. The column sampler is seeded once per tree updater, at the updater's first
    round, and draws on from there; reloading the booster's configuration before each round starts the updater
    afresh, so that its sampler is seeded from that round too."""

    def __init__(self, done: int):
        super().__init__()
        self.done = done

    def before_training(self, model: xgboost.Booster) -> xgboost.Booster:
        model.__class__, model.rounds_before = CountedBooster, self.done
        return model

    def before_iteration(self, model: xgboost.Booster, epoch: int, evals_log) -> bool:
        model.load_config(model.save_config())  # the current one: a callback may have changed a parameter
        return False

    def after_training(self, model: xgboost.Booster) -> xgboost.Booster:
        model.__class__ = xgboost.Booster
        model.__dict__.pop("rounds_before", None)
        return model


class CountedBooster(xgboost.Booster):
    """A booster in training under SeededRounds: its rounds' numbers count on from the `rounds_before` a resume.
    A copy made meanwhile (by a callback) is a plain Booster."""

    rounds_before = 0

    def update(self, dtrain, iteration: int, fobj=None) -> None:
        super().update(dtrain, self.rounds_before + iteration, fobj)


class CheckpointCallback(TrainingCallback):
    """Saves the loop on the schedule and when SIGTERM asked (then raises `Preempted`). `curve` gives the
    learning curve's points so far, saved with the booster, and `threads` the threads it trains on (`threads`)."""

    def __init__(self, checkpoints: Checkpoints, loop: int, resumed: Resumed, total: int, curve, threads: int):
        super().__init__()
        self.checkpoints = checkpoints
        self.loop = loop
        self.resumed = resumed
        self.threads = threads
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
        state = {"history": joined(self.resumed.history, dict(evals_log)), "curve": self.curve(), "threads": self.threads}
        self.checkpoints.save(Checkpoint(loop=self.loop, iteration=done, library=LIBRARY, state=state,
                                         files={BOOSTER: bytes(model.save_raw("ubj"))}))
        self._saved_at = time.monotonic()
