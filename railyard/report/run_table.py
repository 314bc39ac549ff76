"""What tells listed runs apart, for the dashboard's job list and `railyard jobs` alike: each run's headline
holdout metric, and the `custom_params` that the listed runs set to different values.

A complete training job's metrics are recorded on the job when it ends (`recorded_metrics`, bounded: the
trainer wrote them), so a list never reads a result file per row.
"""

from __future__ import annotations

import json

from railyard.report.svg import finite

HEADLINE_METRICS = {"binary_classification": "roc_auc", "multiclass_classification": "accuracy", "regression": "rmse"}
MAX_METRICS = 32  # the metrics recorded on a job
MAX_NAME_CHARACTERS = 64
MAX_PARAM_COLUMNS = 6
MAX_PARAM_CHARACTERS = 24


def recorded_metrics(metrics) -> dict | None:
    """A result's metrics block as recorded on its job: its `kind` and at most MAX_METRICS finite numbers by
    short name; None where it is not an object."""
    if not isinstance(metrics, dict):
        return None
    kind = metrics.get("kind")
    kept = {"kind": kind} if isinstance(kind, str) and len(kind) <= MAX_NAME_CHARACTERS else {}
    numbers = {name: float(value) for name, value in metrics.items()
               if isinstance(name, str) and len(name) <= MAX_NAME_CHARACTERS and name != "kind"
               and finite(value)}
    return kept | dict(list(numbers.items())[:MAX_METRICS])


def headline(metrics: dict | None) -> tuple[str | None, float | None]:
    """The metric a run is known by for its kind of model (roc_auc, accuracy, rmse) and its value."""
    metrics = metrics if isinstance(metrics, dict) else {}
    name = HEADLINE_METRICS.get(metrics.get("kind"))
    value = metrics.get(name) if name else None
    return name, value if finite(value) else None


def custom_params_of(spec) -> dict:
    """A spec's train.custom_params, or {} where it has none."""
    train = spec.get("train") if isinstance(spec, dict) else None
    params = train.get("custom_params") if isinstance(train, dict) else None
    return params if isinstance(params, dict) else {}


def differing_params(listed: list[dict]) -> list[str]:
    """The custom_params that tell the listed runs apart: those that two runs or more set, not all to the same value
    (one model's parameters among another's are left out), in first-seen order, at most MAX_PARAM_COLUMNS."""
    seen: dict[str, list[str]] = {}
    for params in listed:
        for name, value in params.items():
            seen.setdefault(name, []).append(json.dumps(value, sort_keys=True))
    return [name for name, shown in seen.items() if len(shown) > 1 and len(set(shown)) > 1][:MAX_PARAM_COLUMNS]


def param_values(params: dict, names: list[str]) -> list[str]:
    """One run's values of the `names` columns, as JSON cut to MAX_PARAM_CHARACTERS ("" where it sets none)."""
    shown = [json.dumps(params[name]) if name in params else "" for name in names]
    return [text if len(text) <= MAX_PARAM_CHARACTERS else text[:MAX_PARAM_CHARACTERS - 1] + "…" for text in shown]
