"""scikit-learn Pipelines saved step by step, each step in its own library's format.

A Pipeline of scikit-learn transformers ending in an XGBoost model keeps the
booster in XGBoost's format rather than inside a pickle.
"""

from __future__ import annotations

import sys
from typing import Any

from railyard.model import formats

NAMES = ("sklearn_pipeline",)


def accepts(obj: Any) -> bool:
    pipeline = sys.modules.get("sklearn.pipeline")
    return pipeline is not None and type(obj) is pipeline.Pipeline


def save(obj: Any, files: dict[str, bytes], prefix: str) -> dict:
    steps = []
    for i, (name, step) in enumerate(obj.steps):
        if step is None or step == "passthrough":
            steps.append({"name": name, "passthrough": True})
            continue
        steps.append({"name": name, "object": formats.save_object(step, files, f"{prefix}steps/{i}/")})
    return {"format": "sklearn_pipeline", "steps": steps}


def load(node: dict, read, workflow_module: str) -> Any:
    from sklearn.pipeline import Pipeline

    steps = [
        (s["name"], "passthrough" if s.get("passthrough") else formats.load_object(s["object"], read, workflow_module))
        for s in node["steps"]
    ]
    return Pipeline(steps)
