"""What tells listed runs apart, for the dashboard's job list and `railyard jobs` alike: each run's headline
holdout metric, and the `custom_params` that the listed runs set to different values.

A complete training job's metrics are recorded on the job when it ends (`recorded_metrics`, bounded: the
trainer wrote them), so a list never reads a result file per row.
"""

from __future__ import annotations

import json

from railyard.report.svg import finite

HEADLINE_METRICS = {"binary_classification": "roc_auc", "multiclass_classification": "accuracy", "regression": "rmse"}
# Words of a metric's name that say it falls as a model improves (a loss, an error); every other metric rises.
LOWER_IS_BETTER = ("loss", "error", "rmse", "mae", "mape", "mse", "rmsle", "deviance", "poisson", "gamma", "tweedie", "cox", "mphe", "brier")
MAX_METRICS = 32  # the metrics recorded on a job
MAX_NAME_CHARACTERS = 64
MAX_PARAM_COLUMNS = 6
MAX_PARAM_CHARACTERS = 24
MAX_LISTED_PARAMS = 32  # the custom_params a job's summary carries: each at most MAX_LISTED_PARAM_BYTES of JSON
MAX_LISTED_PARAM_BYTES = 256


def recorded_metrics(metrics) -> dict | None:
    """A result's metrics block as recorded on its job: its `kind` and at most MAX_METRICS finite numbers by
    short name; None where it is not an object."""
    if not isinstance(metrics, dict):
        return None
    kind = metrics.get("kind")
    kept = {"kind": kind} if isinstance(kind, str) and len(kind) <= MAX_NAME_CHARACTERS else {}
    numbers = {name: value if isinstance(value, int) else float(value) for name, value in metrics.items()
               if isinstance(name, str) and len(name) <= MAX_NAME_CHARACTERS and name != "kind"
               and finite(value)}
    return kept | dict(list(numbers.items())[:MAX_METRICS])


def metrics_of_result(result: dict | None) -> dict:
    """What a job's result.json gives to record on the job: its holdout metrics, or {} (read, and it gave none)."""
    block = result.get("result") if isinstance(result, dict) else None
    return (recorded_metrics(block.get("metrics")) if isinstance(block, dict) else None) or {}


def lower_is_better(metric: str | None) -> bool:
    """Whether a metric (or a learning curve's, None: a loss) falls as a model improves."""
    return metric is None or any(word in metric.lower() for word in LOWER_IS_BETTER)


def headline(metrics: dict | None) -> tuple[str | None, float | None]:
    """The metric a run is known by for its kind of model (roc_auc, accuracy, rmse) and its value."""
    metrics = metrics if isinstance(metrics, dict) else {}
    name = HEADLINE_METRICS.get(metrics.get("kind"))
    value = metrics.get(name) if name else None
    return name, value if finite(value) else None


def custom_params_of(spec) -> dict:
    """A spec's train.custom_params as a list of runs shows them: at most MAX_LISTED_PARAMS, each name and value
    short (at most MAX_LISTED_PARAM_BYTES of JSON); {} where it has none."""
    train = spec.get("train") if isinstance(spec, dict) else None
    params = train.get("custom_params") if isinstance(train, dict) else None
    if not isinstance(params, dict):
        return {}
    short = ((name, value) for name, value in params.items()
             if len(name) <= MAX_NAME_CHARACTERS and len(json.dumps(value)) <= MAX_LISTED_PARAM_BYTES)
    return dict(list(short)[:MAX_LISTED_PARAMS])


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
    return [cut(json.dumps(params[name]) if name in params else "") for name in names]


def cut(text: str, longest: int = MAX_PARAM_CHARACTERS) -> str:
    """The text, ending in "…" where it was longer than `longest` characters."""
    return text if len(text) <= longest else text[:longest - 1] + "…"


def metric_text(metrics: dict | None) -> str:
    """The headline metric as a list shows it: "roc_auc 0.7499", "rmse 1.2e+20"; "" where there is none."""
    name, value = headline(metrics)
    return f"{name} {value:.4g}" if value is not None else ""
