"""Labels: check the label's values against the spec, and encode them before training.

With `train.positive_label` the label must have exactly two values after
filtering, one of them the positive label; it is encoded as 0/1. A string
label without it is encoded as class codes when it has more than two values
and refused when it has two (which one is positive cannot be guessed). Other
labels are trained on as they are.

Both work on the loaded table, never on the files again: the values come from
one pass over the label column (over its dictionary indices for strings), and
the codes from one lookup per row.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from railyard.errors import DataError
from railyard.model.labels import LabelEncoding
from railyard.pipeline.filter import value_type
from railyard.spec import TrainingSpec

MAX_LABEL_CLASSES = 10_000
_SHOWN_VALUES = 10


def is_string(column_type: pa.DataType) -> bool:
    column_type = value_type(column_type)
    return pa.types.is_string(column_type) or pa.types.is_large_string(column_type)


def label_values(column: pa.ChunkedArray) -> list:
    """The column's distinct non-null values, sorted."""
    return sorted(v for v in pc.unique(column).to_pylist() if v is not None)


def _shown(values: list) -> str:
    more = f", … ({len(values)} values)" if len(values) > _SHOWN_VALUES else ""
    return ", ".join(repr(v) for v in values[:_SHOWN_VALUES]) + more


def _same(value: Any, wanted: Any) -> bool:
    """Equal and both booleans or both not: True does not name the integer 1."""
    return isinstance(value, bool) == isinstance(wanted, bool) and value == wanted


def label_encoding(spec: TrainingSpec, column: pa.ChunkedArray) -> LabelEncoding | None:
    """How the label is encoded for training, or None when it is trained on as it is; DataError when it cannot be."""
    label, positive = spec.train.label, spec.train.positive_label
    if len(column) == 0 or (positive is None and not is_string(column.type)):
        return None  # no rows: the split check reports the empty sets
    values = label_values(column)
    if positive is not None:
        matches = [v for v in values if _same(v, positive)]
        if not matches:
            raise DataError(
                f"train.positive_label: {positive!r} is not a value of column {label!r}; its values are {_shown(values)}"
            )
        if len(values) != 2:
            raise DataError(
                f"train.positive_label: column {label!r} has {len(values)} value{'s' if len(values) != 1 else ''} "
                f"after filtering ({_shown(values)}); a positive label needs a label with exactly two"
            )
        negative = next(v for v in values if not _same(v, positive))
        return LabelEncoding((negative, matches[0]), binary=True)
    if len(values) == 2:
        raise DataError(
            f"train.label: column {label!r} is a string label with two values ({_shown(values)}); "
            f"set train.positive_label to the positive one, e.g. \"positive_label\": {json.dumps(values[1])}"
        )
    if len(values) == 1:
        raise DataError(f"train.label: column {label!r} has one value after filtering ({_shown(values)}); a classifier needs at least two")
    if len(values) > MAX_LABEL_CLASSES:
        raise DataError(
            f"train.label: column {label!r} has {len(values)} distinct string values; at most {MAX_LABEL_CLASSES} classes are supported"
        )
    return LabelEncoding(tuple(values), binary=False)


def _codes(chunk: pa.Array, classes: pa.Array) -> pa.Array:
    if pa.types.is_dictionary(chunk.type):
        return pc.index_in(chunk.dictionary, value_set=classes).take(chunk.indices)
    return pc.index_in(chunk, value_set=classes)


def encode_label(table: pa.Table, label: str, encoding: LabelEncoding) -> pa.Table:
    """The table with its label column replaced by the codes: int8 0/1 for a binary label, int32 class codes otherwise."""
    column = table.column(label)
    classes = pa.array(list(encoding.classes), type=value_type(column.type))
    code_type = pa.int8() if encoding.binary else pa.int32()
    codes = pa.chunked_array([_codes(chunk, classes).cast(code_type) for chunk in column.chunks], type=code_type)
    encoded = table.set_column(table.schema.get_field_index(label), label, codes)
    return encoded.replace_schema_metadata(_forget_pandas_type(table.schema.metadata, label))


def _forget_pandas_type(metadata: dict | None, column: str) -> dict | None:
    """The schema metadata without the column's pandas dtype: a file pandas wrote records its string label as `str`,
    which `to_pandas` would otherwise give back to the codes ('0', '1'). A label pandas saved as the index, or
    pandas metadata that does not parse, drops the pandas metadata whole: the label is then a column like any other."""
    if not metadata or b"pandas" not in metadata:
        return metadata
    rest = {key: value for key, value in metadata.items() if key != b"pandas"}
    try:
        pandas_metadata = json.loads(metadata[b"pandas"])
        if column in pandas_metadata.get("index_columns", []):
            return rest
        pandas_metadata["columns"] = [c for c in pandas_metadata.get("columns", []) if c.get("name") != column]
    except (ValueError, TypeError, AttributeError):
        return rest
    return {**rest, b"pandas": json.dumps(pandas_metadata).encode()}
