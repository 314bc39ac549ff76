"""The Optuna side of a sweep: its study in the service's own database, its sampler and pruner, and a trial's
learning curve as the pruner's intermediate values.

Optuna keeps its tables beside the service's: on PostgreSQL in the same database, in a schema of its own; on
SQLite in a file beside the service's. (Optuna's tables have generic names and their own `alembic_version`,
which would clash with the service's migrations in one schema.) A study is loaded again on every use, so a sweep
survives a restart and any replica may drive it; the sampler's seed moves on with the trials asked, so a
reloaded sampler never repeats the values it drew before.
"""

from __future__ import annotations

import enum
import functools
import logging

import optuna
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from railyard.report.run_table import lower_is_better
from railyard.sweep.space import grid

SCHEMA = "railyard_optuna"
CURVE_STEPS = 50  # the points of a learning curve the pruner is given, evenly over its rounds

optuna.logging.set_verbosity(logging.WARNING)


class Sampler(str, enum.Enum):
    tpe = "tpe"
    random = "random"
    grid = "grid"


class Pruner(str, enum.Enum):
    median = "median"
    halving = "halving"
    hyperband = "hyperband"
    none = "none"


@functools.cache
def storage_for(service_url: str) -> optuna.storages.BaseStorage:
    """The Optuna storage of the service whose (normalized) database URL is `service_url`; one per process."""
    url = make_url(service_url)
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            return optuna.storages.InMemoryStorage()
        return optuna.storages.RDBStorage(str(url.set(database=url.database + ".optuna")),
                                          engine_kwargs={"connect_args": {"timeout": 30}})
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
    engine.dispose()
    return optuna.storages.RDBStorage(url.render_as_string(hide_password=False), engine_kwargs={
        "connect_args": {"options": f"-c search_path={SCHEMA}"}, "pool_pre_ping": True})


def study_name(sweep_id: str) -> str:
    return f"railyard-sweep-{sweep_id}"


def sampler_of(kind: str, space: dict, seed: int, asked: int) -> optuna.samplers.BaseSampler:
    moved = (seed * 1_000_003 + asked) % 2**32  # a seed of its own for each ask: reloads never draw the same values
    if kind == Sampler.grid.value:
        return optuna.samplers.GridSampler(grid(space), seed=seed)
    if kind == Sampler.random.value:
        return optuna.samplers.RandomSampler(seed=moved)
    return optuna.samplers.TPESampler(seed=moved, n_startup_trials=5, constant_liar=True)


def pruner_of(kind: str) -> optuna.pruners.BasePruner:
    if kind == Pruner.median.value:
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=5)
    if kind == Pruner.halving.value:
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=5)
    if kind == Pruner.hyperband.value:
        return optuna.pruners.HyperbandPruner(min_resource=5)
    return optuna.pruners.NopPruner()


def create(storage, sweep_id: str, direction: str) -> None:
    optuna.create_study(storage=storage, study_name=study_name(sweep_id), direction=direction, load_if_exists=True)


def load(storage, sweep_id: str, *, sampler: str, pruner: str, space: dict, seed: int, asked: int) -> optuna.Study:
    return optuna.load_study(study_name=study_name(sweep_id), storage=storage,
                             sampler=sampler_of(sampler, space, seed, asked), pruner=pruner_of(pruner))


def curve_sign(curve_metric: str | None, direction: str) -> float:
    """What a learning curve's values are multiplied by to be scored in the study's direction: -1 where the curve
    falls as the model improves (a loss) in a study that maximizes, or the other way round."""
    return -1.0 if lower_is_better(curve_metric) == (direction == "maximize") else 1.0


def report_curve(study: optuna.Study, trial_number: int, points: list[dict], sign: float, total: float | None) -> int | None:
    """Report the curve's holdout points the trial has not reported yet as intermediate values, at most one per
    stretch of total/CURVE_STEPS rounds, at the stretch's first round: trials of the same length report the same
    steps however their curves were thinned, so the pruner compares them round for round. The last round
    reported, or None when the curve has no new point."""
    trial = next(t for t in study.get_trials(deepcopy=False) if t.number == trial_number)
    live = optuna.trial.Trial(study, trial._trial_id)  # the running trial, by its storage id (Optuna's own handle)
    stretch = max(1, int(total) // CURVE_STEPS) if total else 1
    reported = max(trial.intermediate_values, default=-1)
    last = None
    for point in points:
        round_, value = point.get("iteration"), point.get("holdout")
        step = int(round_) // stretch * stretch if round_ is not None else None
        if step is None or value is None or step <= reported:
            continue
        live.report(sign * float(value), step)
        reported, last = step, int(round_)
    return last


def should_prune(study: optuna.Study, trial_number: int) -> bool:
    trial = next(t for t in study.get_trials(deepcopy=False) if t.number == trial_number)
    return optuna.trial.Trial(study, trial._trial_id).should_prune()
