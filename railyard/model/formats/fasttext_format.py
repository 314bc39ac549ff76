"""fastText classifiers in fastText's own binary model format (`save_model`)."""

from __future__ import annotations

import os
import tempfile
from typing import Any

from railyard.model.fasttext_model import FastTextModel

NAMES = ("fasttext",)


def accepts(obj: Any) -> bool:
    return isinstance(obj, FastTextModel)


def save(obj: FastTextModel, files: dict[str, bytes], prefix: str) -> dict:
    name = f"{prefix}model.bin"
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.bin")
        obj.model.save_model(path)
        with open(path, "rb") as f:
            files[name] = f.read()
    return {"format": "fasttext", "file": name, "text_columns": obj.text_columns, "classes": obj.classes}


def load(node: dict, read, workflow_module: str) -> FastTextModel:
    import fasttext

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.bin")
        with open(path, "wb") as f:
            f.write(read(node["file"]))
        model = fasttext.load_model(path)
    return FastTextModel(model, node["text_columns"], node["classes"])
