"""Class paths (`module:QualName`) recorded in manifests, and importing them back."""

from __future__ import annotations

import importlib

from railyard.errors import ModelFormatError


def class_path(obj_or_cls) -> str:
    cls = obj_or_cls if isinstance(obj_or_cls, type) else type(obj_or_cls)
    return f"{cls.__module__}:{cls.__qualname__}"


def import_class(path: str):
    module_name, _, qualname = path.partition(":")
    try:
        target = importlib.import_module(module_name)
        for part in qualname.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise ModelFormatError(f"cannot import {path} to load the model: {exc}") from exc
    return target
