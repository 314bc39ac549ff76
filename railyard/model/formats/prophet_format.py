"""Prophet forecasts in Prophet's own JSON serialization (`model_to_json`)."""

from __future__ import annotations

from typing import Any

from railyard.model.forecast_model import ForecastModel

NAMES = ("prophet",)


def accepts(obj: Any) -> bool:
    return isinstance(obj, ForecastModel)


def save(obj: ForecastModel, files: dict[str, bytes], prefix: str) -> dict:
    from prophet.serialize import model_to_json

    name = f"{prefix}model.json"
    files[name] = model_to_json(obj.model).encode()
    return {"format": "prophet", "file": name, "date_column": obj.date_column, "regressors": obj.regressors}


def load(node: dict, read, workflow_module: str) -> ForecastModel:
    from prophet.serialize import model_from_json

    return ForecastModel(model_from_json(read(node["file"]).decode()), node["date_column"], node["regressors"])
