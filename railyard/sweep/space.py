"""A sweep's search space: spec paths mapped to the distributions a trial's values are drawn from.

    {"train.custom_params.max_depth": {"int": [2, 8]},
     "train.custom_params.learning_rate": {"float": [0.01, 0.3], "log": true},
     "train.custom_params.booster": {"categorical": ["gbtree", "dart"]},
     "compute_resource": {"categorical": ["CPU", "HIGH_MEM"]}}

A path is `compute_resource` or lies under `train.custom_params` (dots go into nested objects). `int` and
`float` take [low, high] and optionally `step` and `log`; `categorical` takes JSON scalars. Each distribution
becomes Optuna's own, named by its path, so a trial's values are its Optuna params. Every bad entry is one
`SpaceError` naming where it is: `space["train.custom_params.max_depth"].int: ...`.
"""

from __future__ import annotations

import copy
import json
import math
import sys
from typing import Any

import optuna.distributions as od

from railyard.errors import UserError

PARAMS_PREFIX = "train.custom_params."
TOP_LEVEL = ("compute_resource",)
MAX_PATHS = 64
MAX_CHOICES = 1000  # of a categorical, and of the values a grid walks per path
KINDS = {"int": (int,), "float": (int, float), "categorical": None}
OPTIONS = {"int": {"step", "log"}, "float": {"step", "log"}, "categorical": set()}


class SpaceError(UserError):
    """A bad search space; `loc` is where, inside the space document."""

    def __init__(self, loc: tuple, message: str):
        super().__init__(f"{where(loc)}: {message}")
        self.loc, self.reason = loc, message


def where(loc: tuple) -> str:
    return "space" + "".join(f"[{json.dumps(part)}]" if i == 0 else f".{part}" for i, part in enumerate(loc))


def _number(value, kinds: tuple) -> bool:
    return isinstance(value, kinds) and not isinstance(value, bool) and abs(value) <= sys.float_info.max and math.isfinite(value)


def _range(path: str, kind: str, body: dict) -> od.BaseDistribution:
    bounds, kinds = body[kind], KINDS[kind]
    if not (isinstance(bounds, list) and len(bounds) == 2 and all(_number(b, kinds) for b in bounds) and bounds[0] <= bounds[1]):
        raise SpaceError((path, kind), f"expected [low, high] with low <= high, two {'integers' if kind == 'int' else 'numbers'}; got {json.dumps(bounds)}")
    log, step = body.get("log", False), body.get("step")
    if not isinstance(log, bool):
        raise SpaceError((path, "log"), "expected true or false")
    if step is not None and not (_number(step, kinds) and step > 0):
        raise SpaceError((path, "step"), f"expected a positive {'integer' if kind == 'int' else 'number'}")
    if log and (bounds[0] <= 0 or (kind == "int" and step not in (None, 1)) or (kind == "float" and step is not None)):
        raise SpaceError((path, "log"), "a log scale needs low > 0 and no step")
    if kind == "int":
        return od.IntDistribution(bounds[0], bounds[1], log=log, step=step or 1)
    return od.FloatDistribution(float(bounds[0]), float(bounds[1]), log=log, step=step)


def _choices(path: str, body: dict) -> od.CategoricalDistribution:
    choices = body["categorical"]
    if not (isinstance(choices, list) and 0 < len(choices) <= MAX_CHOICES):
        raise SpaceError((path, "categorical"), f"expected a list of 1 to {MAX_CHOICES} values")
    for index, choice in enumerate(choices):
        if not (choice is None or isinstance(choice, (bool, str)) or _number(choice, (int, float))):
            raise SpaceError((path, "categorical", index), "expected a string, number, true, false or null")
    if any(choice in choices[:index] for index, choice in enumerate(choices)):  # Optuna finds a choice by ==: 1, 1.0 and true are one
        raise SpaceError((path, "categorical"), "a value is listed twice (1, 1.0 and true are the same value)")
    return od.CategoricalDistribution(choices)


def _check_path(path) -> None:
    if not isinstance(path, str) or not (path in TOP_LEVEL or path.startswith(PARAMS_PREFIX) and len(path) > len(PARAMS_PREFIX)):
        raise SpaceError((path,), f"expected {' or '.join(TOP_LEVEL)} or a path under {PARAMS_PREFIX[:-1]}")
    if any(not part for part in path.split(".")) or len(path) > 256:
        raise SpaceError((path,), "expected dot-separated names, at most 256 characters")


def parse_space(document: Any) -> dict[str, od.BaseDistribution]:
    """The space's distributions by path, in the order given; SpaceError for the first bad entry."""
    if not isinstance(document, dict) or not 0 < len(document) <= MAX_PATHS:
        raise SpaceError((), f"expected an object of 1 to {MAX_PATHS} spec paths, each mapped to a distribution")
    space = {}
    for path, body in document.items():
        _check_path(path)
        inside = next((other for other in document if isinstance(other, str) and other.startswith(path + ".")), None)
        if inside is not None:
            raise SpaceError((path,), f"{inside} lies inside it: a path and a path under it would set one value twice")
        kinds = [kind for kind in KINDS if isinstance(body, dict) and kind in body]
        if len(kinds) != 1:
            raise SpaceError((path,), 'expected one of {"int": [low, high]}, {"float": [low, high]}, {"categorical": [...]}')
        kind = kinds[0]
        unknown = set(body) - {kind} - OPTIONS[kind]
        if unknown:
            raise SpaceError((path, sorted(unknown)[0]), f"not an option of {kind} (expected: {', '.join(sorted(OPTIONS[kind])) or 'none'})")
        space[path] = _choices(path, body) if kind == "categorical" else _range(path, kind, body)
    return space


def suggest(trial, space: dict[str, od.BaseDistribution]) -> dict[str, Any]:
    """A trial's values, drawn by its sampler: one Optuna param per path."""
    values = {}
    for path, dist in space.items():
        if isinstance(dist, od.IntDistribution):
            values[path] = trial.suggest_int(path, dist.low, dist.high, step=dist.step, log=dist.log)
        elif isinstance(dist, od.FloatDistribution):
            values[path] = trial.suggest_float(path, dist.low, dist.high, step=dist.step, log=dist.log)
        else:
            values[path] = trial.suggest_categorical(path, dist.choices)
    return values


def apply(spec: dict, values: dict[str, Any]) -> dict:
    """A copy of the spec document with each path set to its value."""
    applied = copy.deepcopy(spec)
    for path, value in values.items():
        *parents, name = path.split(".")
        node = applied
        for part in parents:
            child = node.get(part)
            node[part] = child = child if isinstance(child, dict) else {}
            node = child
        node[name] = value
    return applied


def extremes(space: dict[str, od.BaseDistribution]) -> list[tuple[str, Any]]:
    """What a sweep's check tries in the spec, path by path: the ends of each range; each choice of a top-level
    field (which the executor must admit); of a custom param's choices, the first, the last and the longest (the
    spec bounds custom_params' size): at most five values a path."""
    found = []
    for path, dist in space.items():
        if not isinstance(dist, od.CategoricalDistribution):
            values = [dist.low, dist.high]
        elif path in TOP_LEVEL:
            values = list(dist.choices)
        else:
            values = list(dict.fromkeys([dist.choices[0], dist.choices[-1], max(dist.choices, key=lambda c: len(json.dumps(c)))]))
        found += [(path, value) for value in values]
    return found


def grid(space: dict[str, od.BaseDistribution]) -> dict[str, list]:
    """The values a grid search walks per path; SpaceError where a path has no finite list of values."""
    walked = {}
    for path, dist in space.items():
        if isinstance(dist, od.CategoricalDistribution):
            walked[path] = list(dist.choices)
        elif dist.step is not None and (dist.high - dist.low) / dist.step < MAX_CHOICES:
            count = int(round((dist.high - dist.low) / dist.step)) + 1
            walked[path] = [dist.low + i * dist.step for i in range(count)]
        else:
            raise SpaceError((path,), f"a grid needs categorical values, or int or float with a step (at most {MAX_CHOICES} values)")
    return walked


def grid_size(space: dict[str, od.BaseDistribution]) -> int:
    return math.prod(len(values) for values in grid(space).values())
