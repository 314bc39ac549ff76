"""Each predicate against the same selection computed with pandas, nulls included."""

import datetime as dt
import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from railyard.errors import DataError
from railyard.pipeline.filter import check_filter_types, combined_expression
from railyard.pipeline.load import open_source, read_source
from railyard.spec import FeatureSource, Filter
from tests.conftest import REPO

rng = np.random.default_rng(3)
N = 2_000
FRAME = pd.DataFrame(
    {
        "country": pd.array(rng.choice(["US", "CA", "FR", None], N), dtype="object"),
        "amount": np.where(rng.random(N) < 0.05, np.nan, rng.uniform(0, 100, N).round(1)),
        "count": pd.array(rng.integers(0, 6, N), dtype="Int64"),
        "flag": pd.array(rng.choice([True, False, None], N), dtype="boolean"),
        "when": pd.to_datetime("2018-01-01", utc=True) + pd.to_timedelta(rng.integers(0, 365, N), unit="D"),
    }
)
TABLE = pa.Table.from_pandas(FRAME, preserve_index=False)


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    path = tmp_path_factory.mktemp("filters") / "frame.parquet"
    pq.write_table(TABLE, path, row_group_size=500)
    return open_source(0, FeatureSource(names=list(FRAME.columns), path=str(path)))


def filtered(source, filters) -> pd.DataFrame:
    """What the load step reads with these filters pushed down."""
    check_filter_types(filters, source.schema)
    frame = read_source(source, list(FRAME.columns), combined_expression(filters, source.schema)).table.to_pandas()
    return frame.astype({"country": object})  # strings are read as categories


def f(name, predicate, **value):
    return Filter(feature_name=name, predicate=predicate, feature_value=value or None)


CASES = [
    (f("country", "IsIn", string_vals=["US", "CA"]), lambda d: d.country.isin(["US", "CA"])),
    (f("country", "NotIn", string_vals=["US"]), lambda d: d.country.notna() & ~d.country.isin(["US"])),
    (f("country", "Equal", string_vals=["FR"]), lambda d: d.country == "FR"),
    (f("country", "NotEqual", string_vals=["FR"]), lambda d: d.country.notna() & (d.country != "FR")),
    (f("amount", "GreaterThan", float_vals=[50.0]), lambda d: d.amount > 50),
    (f("amount", "GreaterThanOrEqual", int_vals=[50]), lambda d: d.amount >= 50),
    (f("amount", "LessThan", float_vals=[10.5]), lambda d: d.amount < 10.5),
    (f("count", "LessThanOrEqual", int_vals=[2]), lambda d: (d["count"] <= 2).fillna(False)),
    (f("count", "IsIn", int_vals=[1, 3]), lambda d: d["count"].isin([1, 3]).fillna(False)),
    (f("amount", "Between", float_vals=[20.0, 30.0]), lambda d: d.amount.between(20, 30)),
    (f("amount", "IsNull"), lambda d: d.amount.isna()),
    (f("country", "IsNotNull"), lambda d: d.country.notna()),
    (f("flag", "Equal", bool_val=True), lambda d: (d.flag == True).fillna(False)),  # noqa: E712
    (
        f("when", "Between", timestamp_vals=["2018-03-01", "2018-03-31"]),
        lambda d: d.when.between(pd.Timestamp("2018-03-01", tz="UTC"), pd.Timestamp("2018-03-31", tz="UTC")),
    ),
    (f("when", "GreaterThanOrEqual", timestamp_vals=["2018-12-01T00:00:00Z"]), lambda d: d.when >= pd.Timestamp("2018-12-01", tz="UTC")),
]


@pytest.mark.parametrize("spec_filter, expected", CASES, ids=[f"{c[0].feature_name}-{c[0].predicate.value}" for c in CASES])
def test_predicate_matches_pandas(source, spec_filter, expected):
    got = filtered(source, [spec_filter])
    want = FRAME[expected(FRAME).astype(bool)]
    assert len(got) == len(want) > 0
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True), check_dtype=False)


def test_filters_are_anded(source):
    filters = [f("country", "IsIn", string_vals=["US", "CA"]), f("amount", "GreaterThan", float_vals=[50.0])]
    assert len(filtered(source, filters)) == int((FRAME.country.isin(["US", "CA"]) & (FRAME.amount > 50)).sum())


@pytest.mark.parametrize(
    "spec_filter, message",
    [
        (f("amount", "Equal", string_vals=["10"]), "filters[0].feature_value: column 'amount' is double, but string_vals needs string column; use float_vals"),
        (f("country", "IsIn", int_vals=[1]), "column 'country' is string, but int_vals needs an integer or float column; use string_vals"),
        (f("when", "GreaterThan", float_vals=[1.0]), "use timestamp_vals"),
        (f("flag", "Equal", string_vals=["yes"]), "use bool_val"),
    ],
)
def test_filter_value_must_match_column_type(spec_filter, message):
    with pytest.raises(DataError) as caught:
        check_filter_types([spec_filter], TABLE.schema)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_date_filter_prunes_row_groups(tmp_path):
    path = tmp_path / "sorted.parquet"
    pq.write_table(TABLE.sort_by("when"), path, row_group_size=100)
    source = open_source(0, FeatureSource(names=list(FRAME.columns), path=str(path)))
    spec_filter = f("when", "GreaterThanOrEqual", timestamp_vals=[dt.date(2018, 12, 1)])
    loaded = read_source(source, ["when", "amount"], combined_expression([spec_filter], source.schema))
    assert loaded.row_groups_total == 20
    assert loaded.row_groups_read <= 3
    assert loaded.rows_in_source == N and loaded.rows_scanned <= 300
    assert loaded.table.num_rows == int((FRAME.when >= pd.Timestamp("2018-12-01", tz="UTC")).sum())
    assert loaded.table.column_names == ["when", "amount"]


def test_filter_only_columns_are_not_kept(source):
    spec_filter = f("country", "Equal", string_vals=["CA"])
    loaded = read_source(source, ["amount"], combined_expression([spec_filter], source.schema))
    assert loaded.table.column_names == ["amount"]
    assert loaded.table.num_rows == int((FRAME.country == "CA").sum())


def test_thousands_of_filters_scan_without_overflowing_the_stack(tmp_path):
    """20,000 filters past the spec's limit: ANDed left-deep, or balanced but refolded by Arrow, this segfaults."""
    path = tmp_path / "frame.parquet"
    pq.write_table(TABLE, path, row_group_size=500)
    columns = ["country", "amount", "count"]
    script = f"""
from railyard.pipeline.filter import combined_expression
from railyard.pipeline.load import open_source, read_source
from railyard.spec import FeatureSource, Filter

source = open_source(0, FeatureSource(names={columns!r}, path={str(path)!r}))
filters = [Filter(feature_name={columns!r}[i % 3], predicate="IsNotNull") for i in range(20_000)]
print(read_source(source, {columns!r}, combined_expression(filters, source.schema)).table.num_rows)
"""
    run = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert int(run.stdout) == int(FRAME[columns].notna().all(axis=1).sum())
