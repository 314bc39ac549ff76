"""scikit-learn estimators (and other picklable models) as a Python pickle, unpickled through an allowlist.

This is scikit-learn's own documented persistence format. Unpickling imports
and calls whatever the pickle names, so loading resolves only: classes from
numpy, scipy, scikit-learn, pandas and XGBoost (less their I/O and testing
modules) and from the workflow's module, NumPy ufuncs, scikit-learn's score and
metric functions, a few builtin types, and the functions these libraries
pickle their objects with. Any other name is refused before it is imported.

A model is pickled by content (`ContentPickler`): its bytes, and so its model
id, are the same whether its arrays were made in this process or read back from
a pickle (a resumed run's estimator, say).
"""

from __future__ import annotations

import io
import pickle
import sys
from typing import Any

from railyard.errors import ModelFormatError
from railyard.model.formats.importing import class_path, is_allowed, refusal, resolve

NAMES = ("sklearn", "pickle")
PROTOCOL = 5
LIBRARIES = ("numpy", "scipy", "sklearn", "pandas", "xgboost")
# Public functions that estimators take as parameters (SelectKBest's score_func, a metric): pure computations.
FUNCTION_MODULES = ("sklearn.feature_selection", "sklearn.metrics")
_BUILTIN_TYPES = ("bool", "bytearray", "bytes", "complex", "dict", "float", "frozenset", "int", "list", "object", "range",
                  "set", "slice", "str", "tuple")
SAFE_GLOBALS = frozenset({
    *(("builtins", name) for name in _BUILTIN_TYPES),
    ("collections", "OrderedDict"), ("functools", "partial"), ("copyreg", "_reconstructor"),
    ("datetime", "date"), ("datetime", "datetime"), ("datetime", "timedelta"), ("datetime", "timezone"),
    *((f"numpy.{core}.multiarray", name) for core in ("core", "_core") for name in ("_reconstruct", "scalar")),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("numpy.random._pickle", "__randomstate_ctor"), ("numpy.random._pickle", "__generator_ctor"),
    ("numpy.random._pickle", "__bit_generator_ctor"), ("numpy.random.bit_generator", "__pyx_unpickle_SeedSequence"),
    ("numpy.ma.core", "_mareconstruct"),
    ("pandas._libs.arrays", "__pyx_unpickle_NDArrayBacked"), ("pandas._libs.internals", "_unpickle_block"),
    ("pandas.core.indexes.base", "_new_Index"), ("pandas._libs.tslibs.timestamps", "_unpickle_timestamp"),
    ("pandas._libs.tslibs.timedeltas", "_timedelta_unpickle"), ("pandas._libs.tslibs.nattype", "_nat_unpickle"),
    ("pandas", "NA"), ("pandas._libs.missing", "NA"),
    ("pyarrow.lib", "_restore_array"), ("pyarrow.lib", "type_for_alias"), ("pyarrow.lib", "py_buffer"),
    ("sklearn.utils.validation", "check_array"),
})


class ContentPickler(pickle.Pickler):
    """Pickles each NumPy array with the dtype NumPy keeps for its type. An array read back from a pickle holds a
    dtype object of its own; pickle writes a shared object once and an equal one again, so a model holding such
    arrays would otherwise pickle to other bytes than the same model made afresh."""

    def reducer_override(self, obj: Any) -> Any:
        kind = type(obj)
        if kind.__name__ != "ndarray" or kind.__module__ != "numpy":
            return NotImplemented
        descr = obj.dtype
        if descr.names is not None or descr.hasobject:
            return NotImplemented
        canonical = sys.modules["numpy"].dtype(descr.str)
        if canonical is descr or canonical != descr:
            return NotImplemented
        return obj.view(canonical).__reduce_ex__(PROTOCOL)


def dumps(obj: Any) -> bytes:
    buffer = io.BytesIO()
    ContentPickler(buffer, protocol=PROTOCOL).dump(obj)
    return buffer.getvalue()


class AllowlistUnpickler(pickle.Unpickler):
    def __init__(self, data: bytes, allowed_modules: tuple[str, ...]):
        super().__init__(io.BytesIO(data))
        self.allowed_modules = allowed_modules

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in SAFE_GLOBALS:
            return super().find_class(module, name)
        path = f"{module}:{name}"
        if not is_allowed(module, self.allowed_modules, name):
            raise refusal(path, self.allowed_modules)
        obj = resolve(module, name, path)
        if not self._loadable(obj, name):
            raise refusal(path, self.allowed_modules)
        return obj

    def _loadable(self, obj: Any, name: str) -> bool:
        numpy = sys.modules.get("numpy")
        if isinstance(obj, type):
            memmap = numpy is not None and issubclass(obj, numpy.memmap)  # its constructor creates and truncates files
            return is_allowed(obj.__module__, self.allowed_modules) and not memmap
        if numpy is not None and isinstance(obj, numpy.ufunc):
            return True
        public = not any(part.startswith("_") for part in name.split("."))
        return public and callable(obj) and is_allowed(getattr(obj, "__module__", None) or "", FUNCTION_MODULES)


def loads(data: bytes, workflow_module: str) -> Any:
    return AllowlistUnpickler(data, (*LIBRARIES, workflow_module)).load()


def accepts(obj: Any) -> bool:
    return True


def save(obj: Any, files: dict[str, bytes], prefix: str) -> dict:
    name = f"{prefix}model.pkl"
    try:
        files[name] = dumps(obj)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        raise ModelFormatError(f"cannot serialize {class_path(obj)}: {exc}") from exc
    kind = "sklearn" if type(obj).__module__.startswith("sklearn") else "pickle"
    return {"format": kind, "class": class_path(obj), "file": name}


def load(node: dict, read, workflow_module: str) -> Any:
    return loads(read(node["file"]), workflow_module)
