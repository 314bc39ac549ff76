"""One format per library: how a fitted object becomes bytes and comes back.

Each format saves an object into files under a prefix and returns a manifest
node `{"format": name, ...}`; `load` turns that node back into the object,
importing only its library's classes and those of the workflow's module
(`importing.py`).
The first format that accepts an object is used, in the order of FORMATS.
"""

from __future__ import annotations

from typing import Any

from railyard.errors import ModelFormatError
from railyard.model.formats import (
    fasttext_format,
    pickle_format,
    pipeline_format,
    prophet_format,
    torch_format,
    xgboost_format,
)

FORMATS = [xgboost_format, torch_format, fasttext_format, prophet_format, pipeline_format, pickle_format]
_BY_NAME = {name: module for module in FORMATS for name in module.NAMES}


def save_object(obj: Any, files: dict[str, bytes], prefix: str) -> dict:
    for module in FORMATS:
        if module.accepts(obj):
            return module.save(obj, files, prefix)
    raise ModelFormatError(f"cannot serialize a {type(obj).__module__}.{type(obj).__qualname__}")


def load_object(node: dict, read, workflow_module: str) -> Any:
    module = _BY_NAME.get(node.get("format"))
    if module is None:
        raise ModelFormatError(f"unknown model format {node.get('format')!r}; known: {', '.join(sorted(_BY_NAME))}")
    return module.load(node, read, workflow_module)
