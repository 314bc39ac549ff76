"""Filters: the spec's filters as pyarrow expressions, checked against the column types.

The load step pushes the expression into the parquet scan, where it prunes row
groups by their statistics and removes rows as batches are decoded.
Comparisons follow SQL: a null never equals, differs from or is ordered against
a value, so only IsNull matches null rows. `Between` includes both ends.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.compute as pc

from railyard.errors import DataError
from railyard.spec import Filter, Predicate

# The column types each kind of feature_value may be compared with.
_COMPATIBLE = {
    "string_vals": ("string", lambda t: pa.types.is_string(t) or pa.types.is_large_string(t)),
    "int_vals": ("an integer or float", lambda t: pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)),
    "float_vals": ("a float or integer", lambda t: pa.types.is_floating(t) or pa.types.is_integer(t) or pa.types.is_decimal(t)),
    "bool_val": ("boolean", pa.types.is_boolean),
    "timestamp_vals": ("a timestamp or date", lambda t: pa.types.is_timestamp(t) or pa.types.is_date(t)),
}

_SUGGEST = [
    (lambda t: pa.types.is_string(t) or pa.types.is_large_string(t), "string_vals"),
    (pa.types.is_integer, "int_vals"),
    (pa.types.is_floating, "float_vals"),
    (pa.types.is_boolean, "bool_val"),
    (lambda t: pa.types.is_timestamp(t) or pa.types.is_date(t), "timestamp_vals"),
]


def value_type(field_type: pa.DataType) -> pa.DataType:
    return field_type.value_type if pa.types.is_dictionary(field_type) else field_type


def type_name(column_type: pa.DataType) -> str:
    """The type as users think of it: 'string' for every Arrow string encoding."""
    column_type = value_type(column_type)
    return "string" if pa.types.is_string(column_type) or pa.types.is_large_string(column_type) else str(column_type)


def _temporal_scalar(value: dt.date, column_type: pa.DataType) -> pa.Scalar:
    if pa.types.is_date(column_type):
        day = value.date() if isinstance(value, dt.datetime) else value
        return pa.scalar(day, type=column_type)
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time())
    if column_type.tz is not None and value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    if column_type.tz is None and value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return pa.scalar(value, type=column_type)


def typed_values(values: list, column_type: pa.DataType) -> list[pa.Scalar]:
    """Values as scalars of the column's type, so comparisons never cast the column."""
    if pa.types.is_timestamp(column_type) or pa.types.is_date(column_type):
        return [_temporal_scalar(v, column_type) for v in values]
    if pa.types.is_integer(column_type) and any(isinstance(v, float) and not v.is_integer() for v in values):
        return [pa.scalar(float(v)) for v in values]
    return [pa.scalar(v, type=column_type) for v in values]


def check_filter_types(filters: list[Filter], schema: pa.Schema) -> None:
    for i, f in enumerate(filters):
        if f.feature_value is None:
            continue
        column_type = value_type(schema.field(f.feature_name).type)
        described, fits = _COMPATIBLE[f.feature_value.kind]
        if not fits(column_type):
            hint = next((kind for test, kind in _SUGGEST if test(column_type)), None)
            use = f"; use {hint}" if hint else ""
            raise DataError(
                f"filters[{i}].feature_value: column {f.feature_name!r} is {type_name(column_type)}, "
                f"but {f.feature_value.kind} needs {described} column{use}"
            )


def expression(f: Filter, schema: pa.Schema) -> pc.Expression:
    column = pc.field(f.feature_name)
    if f.predicate is Predicate.IsNull:
        return column.is_null()
    if f.predicate is Predicate.IsNotNull:
        return column.is_valid()
    values = typed_values(f.feature_value.values, value_type(schema.field(f.feature_name).type))
    match f.predicate:
        case Predicate.IsIn:
            return column.isin(pa.array([v.as_py() for v in values], type=values[0].type))
        case Predicate.NotIn:
            return column.is_valid() & ~column.isin(pa.array([v.as_py() for v in values], type=values[0].type))
        case Predicate.Equal:
            return column == values[0]
        case Predicate.NotEqual:
            return column != values[0]
        case Predicate.GreaterThan:
            return column > values[0]
        case Predicate.GreaterThanOrEqual:
            return column >= values[0]
        case Predicate.LessThan:
            return column < values[0]
        case Predicate.LessThanOrEqual:
            return column <= values[0]
        case Predicate.Between:
            return (column >= values[0]) & (column <= values[1])
    raise AssertionError(f.predicate)


def all_of(terms: list[pc.Expression]) -> pc.Expression:
    """The terms ANDed as a balanced tree, about log2(n) deep, so that Arrow's recursion stays shallow."""
    while len(terms) > 1:
        pairs = [a & b for a, b in zip(terms[0::2], terms[1::2])]
        rest = terms[2 * len(pairs):]
        if len(pairs) + len(rest) > 1:
            # Arrow's Canonicalize flattens nested and_kleene calls into one chain and folds it back
            # left-deep, one stack frame per term; a double negation ends each chain at two terms.
            # It folds like the pair it wraps, so row-group pruning is unchanged.
            pairs = [~~pair for pair in pairs]
        terms = pairs + rest
    return terms[0]


def combined_expression(filters: list[Filter], schema: pa.Schema) -> pc.Expression | None:
    """All filters ANDed, or None when there are none."""
    if not filters:
        return None
    return all_of([expression(f, schema) for f in filters])
