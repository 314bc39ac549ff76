"""XGBoost models in XGBoost's own UBJSON format (`save_model`), never pickled.

The class rebuilt must be an XGBoost estimator or Booster from `xgboost` or from the workflow's module.
"""

from __future__ import annotations

import os
import sys
import tempfile
from typing import Any

from railyard.model.formats.importing import class_path, import_allowed

NAMES = ("xgboost",)


def accepts(obj: Any) -> bool:
    xgboost = sys.modules.get("xgboost")
    return xgboost is not None and isinstance(obj, (xgboost.XGBModel, xgboost.Booster))


def save(obj: Any, files: dict[str, bytes], prefix: str) -> dict:
    import xgboost

    name = f"{prefix}model.ubj"
    if isinstance(obj, xgboost.Booster):
        files[name] = bytes(obj.save_raw(raw_format="ubj"))
    else:
        # The sklearn wrapper only saves to a path; its file holds the booster and the wrapper's params.
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "model.ubj")
            obj.save_model(path)
            with open(path, "rb") as f:
                files[name] = f.read()
    return {"format": "xgboost", "class": class_path(obj), "file": name, "xgboost_version": xgboost.__version__}


def load(node: dict, read, workflow_module: str) -> Any:
    import xgboost

    cls = import_allowed(node["class"], ("xgboost", workflow_module), (xgboost.XGBModel, xgboost.Booster))
    obj = cls()
    obj.load_model(bytearray(read(node["file"])))
    if isinstance(obj, xgboost.XGBModel):
        obj.set_params(device="cpu")
    return obj
