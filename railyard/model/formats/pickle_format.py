"""scikit-learn estimators (and any other picklable model) as a Python pickle.

This is scikit-learn's own documented persistence format. The manifest records
the library versions that wrote it, and an artifact is only unpickled after its
bytes have matched its sha256 id, so only content that Railyard wrote is loaded.
"""

from __future__ import annotations

import pickle
from typing import Any

from railyard.errors import ModelFormatError
from railyard.model.formats.importing import class_path

NAMES = ("sklearn", "pickle")


def accepts(obj: Any) -> bool:
    return True


def save(obj: Any, files: dict[str, bytes], prefix: str) -> dict:
    name = f"{prefix}model.pkl"
    try:
        files[name] = pickle.dumps(obj, protocol=5)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        raise ModelFormatError(f"cannot serialize {class_path(obj)}: {exc}") from exc
    kind = "sklearn" if type(obj).__module__.startswith("sklearn") else "pickle"
    return {"format": kind, "class": class_path(obj), "file": name}


def load(node: dict, read) -> Any:
    return pickle.loads(read(node["file"]))
