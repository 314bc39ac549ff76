"""Sample data generators for the demo, the tests and the benchmarks."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from railyard.storage import LocalStore


def write_parquet(table: pa.Table, out: str | Path, row_group_size: int) -> Path:
    """Write a small sample table to one parquet file, atomically."""
    out = Path(out)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, row_group_size=row_group_size)
    LocalStore(out.parent).write_bytes(out.name, sink.getvalue().to_pybytes())
    return out
