"""Turn a workflow's fitted model into artifact bytes with everything needed to score again."""

from __future__ import annotations

import sys

import pandas as pd

from railyard.model.artifact import ARTIFACT_VERSION, model_id, pack
from railyard.model.formats import save_object
from railyard.model.formats.importing import class_path

_LIBRARIES = ("numpy", "pandas", "pyarrow", "sklearn", "xgboost", "torch")


def _categories(features: pd.DataFrame) -> dict[str, list]:
    return {
        name: features[name].cat.categories.tolist()
        for name in features.columns
        if isinstance(features[name].dtype, pd.CategoricalDtype)
    }


def build_artifact(
    model,
    *,
    workflow_cls: type,
    scoring: str,
    features: pd.DataFrame,
    label: str,
    metadata: dict,
    label_encoding: dict | None = None,
) -> tuple[bytes, str]:
    """(artifact bytes, model id). `features` is a sample of the training features; `label_encoding`
    is `LabelEncoding.as_dict()` when the label was encoded for training."""
    files: dict[str, bytes] = {}
    node = save_object(model, files, "")
    manifest = {
        "railyard_model": ARTIFACT_VERSION,
        "model": node,
        "features": list(features.columns),
        "feature_dtypes": {name: str(dtype) for name, dtype in features.dtypes.items()},
        "categories": _categories(features),
        "label": label,
        "label_encoding": label_encoding,
        "workflow": class_path(workflow_cls),
        "scoring": scoring,
        "libraries": {
            name: getattr(sys.modules[name], "__version__", "unknown") for name in _LIBRARIES if name in sys.modules
        },
        "metadata": metadata,
    }
    data = pack(manifest, files)
    return data, model_id(data)
