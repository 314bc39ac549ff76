"""Class paths (`module:QualName`) recorded in manifests, and importing them back from an allowlist.

A manifest or a pickle is data, so it never chooses what is imported: a model
may name classes from the libraries Railyard saves models with (each format
says which) and from the module of the workflow that trained it, nothing
else. The workflow itself must be a `Workflow` subclass defined in a module
that is neither the standard library nor a library nor Railyard; its module's
source is read, not run, to check that it defines the class before it is imported.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
from collections.abc import Iterable

from railyard.errors import ModelFormatError

NOT_WORKFLOWS = ("railyard", "torch", "sklearn", "xgboost", "numpy", "scipy", "pandas", "pyarrow", "fasttext", "prophet")
# Library submodules that read or write files, open connections or run tests: never loaded from a model.
DENIED_PARTS = frozenset({"io", "datasets", "testing", "_testing", "tests", "externals", "ctypeslib", "f2py", "distutils",
                          "_lib", "computation", "plotting", "tracker", "collective", "dask", "spark", "federated"})


def class_path(obj_or_cls) -> str:
    cls = obj_or_cls if isinstance(obj_or_cls, type) else type(obj_or_cls)
    return f"{cls.__module__}:{cls.__qualname__}"


def is_allowed(module: str, allowed_modules: Iterable[str], qualname: str = "") -> bool:
    """Whether `module` is one of `allowed_modules` or under one but not in a DENIED_PARTS submodule,
    and `qualname` reaches no dunder attribute."""
    if any(part.startswith("__") for part in qualname.split(".")):
        return False
    return any(
        (module == m or module.startswith(m + ".")) and not DENIED_PARTS.intersection(module[len(m):].split("."))
        for m in allowed_modules
    )


def refusal(path: str, allowed_modules: Iterable[str]) -> ModelFormatError:
    return ModelFormatError(f"the model names {path}, which Railyard does not load; allowed: classes from {', '.join(allowed_modules)}")


def resolve(module_name: str, qualname: str, path: str):
    try:
        target = importlib.import_module(module_name)
        for part in qualname.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise ModelFormatError(f"cannot import {path} to load the model: {exc}") from exc
    return target


def import_allowed(path: str, allowed_modules: Iterable[str], base: type | tuple[type, ...] = object) -> type:
    """The class `path` names, imported only when its module is in (or under) `allowed_modules`
    and the class is defined there (not re-exported) and is a subclass of `base`."""
    allowed_modules = tuple(allowed_modules)
    module_name, _, qualname = str(path).partition(":")
    if not qualname or not is_allowed(module_name, allowed_modules, qualname):
        raise refusal(path, allowed_modules)
    cls = resolve(module_name, qualname, path)
    if not isinstance(cls, type) or not is_allowed(cls.__module__, allowed_modules) or not issubclass(cls, base):
        raise refusal(path, allowed_modules)
    return cls


def _defines_class(module_name: str, class_name: str) -> bool | None:
    """Whether the module's source defines `class_name` at top level; None where the module is not installed."""
    try:
        spec = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    try:
        source = spec.loader.get_source(module_name) if hasattr(spec.loader, "get_source") else None
    except (ImportError, OSError):
        source = None
    if not source:
        return False
    return any(isinstance(node, ast.ClassDef) and node.name == class_name for node in ast.parse(source).body)


def import_workflow(path: str) -> type | None:
    """The Workflow subclass a manifest names, or None where its module is not installed here."""
    from railyard.workflow import Workflow

    module_name, _, qualname = str(path).partition(":")
    top = module_name.partition(".")[0]
    refused = ModelFormatError(f"the model names {path} as its workflow, which is not a Workflow subclass Railyard may import")
    names = [*module_name.split("."), qualname]
    if not all(name.isidentifier() for name in names) or top in sys.stdlib_module_names or top in NOT_WORKFLOWS:
        raise refused
    if module_name not in sys.modules:
        defines = _defines_class(module_name, qualname)
        if defines is None:
            return None
        if not defines:
            raise refused
    try:
        cls = resolve(module_name, qualname, path)
    except ModelFormatError:
        if module_name not in sys.modules:
            return None  # installed but not importable here (a missing dependency): the workflow is unavailable
        raise refused from None
    if not (isinstance(cls, type) and issubclass(cls, Workflow) and cls is not Workflow and cls.__module__ == module_name):
        raise refused
    return cls


def workflow_module(path: str) -> str:
    return str(path).partition(":")[0]
