"""Load step: open every feature source as a pyarrow dataset and read only what is needed.

Only the columns the run uses are read (projection); row groups whose parquet
statistics (or hive partition values) prove that no row can pass the filters
are skipped without being read (row-group pruning); and the filters run inside
the scan, so rows that fail them are never materialized (predicate pushdown). A source is a
parquet file, a directory of parquet files (hive-partitioned or not), a
`file://` URI or an `s3://` URI.

The first source is read row group by row group, and each row it keeps carries its position in
the input (`ROW_POSITION`: file, row group, row in the group), which the split and the gathering
of holdout rows go by. In a job of several workers each worker reads a disjoint share of the
first source's row groups, every N-th one (the same for every run with the same input and N, and
spread over the whole input, which is often sorted by date); the other sources, joined to it, are
read whole by every worker.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs

from railyard.errors import DataError
from railyard.spec import FeatureSource
from railyard.storage import arrow_filesystem


@dataclass
class Source:
    index: int
    spec: FeatureSource
    dataset: ds.Dataset

    @property
    def label(self) -> str:
        return f"data.features[{self.index}]"

    @property
    def schema(self) -> pa.Schema:
        return self.dataset.schema


def _string_columns(schema: pa.Schema) -> list[str]:
    return [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]


def open_source(index: int, source: FeatureSource) -> Source:
    """The source as a dataset. Every look and open goes through `arrow_filesystem`, so in a job with data
    prefixes nothing here (not whether the path exists, nor its schema) describes a file outside them."""
    filesystem, path = arrow_filesystem(source.path, where=f"data.features[{index}].path")
    try:
        info = filesystem.get_file_info(path)
        if info.type == pa.fs.FileType.NotFound:
            raise DataError(f"data.features[{index}].path: {source.path} does not exist")
        probe = ds.dataset(path, filesystem=filesystem, format="parquet", partitioning="hive")
        # Strings are read dictionary-encoded so they reach pandas as `category`.
        read_options = ds.ParquetReadOptions(dictionary_columns=_string_columns(probe.schema))
        dataset = ds.dataset(
            path,
            filesystem=filesystem,
            format=ds.ParquetFileFormat(read_options=read_options),
            partitioning="hive",
        )
    except DataError:
        raise
    except (OSError, pa.ArrowException) as exc:
        raise DataError(f"data.features[{index}].path: cannot read {source.path} as parquet: {exc}") from exc
    if not dataset.files:
        raise DataError(f"data.features[{index}].path: {source.path} holds no parquet files")
    return Source(index, source, dataset)


@dataclass
class Loaded:
    table: pa.Table
    rows_in_source: int
    rows_scanned: int
    row_groups_read: int
    row_groups_total: int


def _rows(fragments) -> int:
    return sum(rg.num_rows for f in fragments for rg in f.row_groups)


# Column added to the first source's rows: (file index << 44) | (row group << 24) | row in the group.
ROW_POSITION = "__railyard_row"
_FILE_BITS, _GROUP_BITS, _ROW_BITS = 19, 20, 24


def read_source(source: Source, columns: list[str], filters: pc.Expression | None) -> Loaded:
    """Read `columns` of the rows that pass `filters`.

    Row groups whose statistics rule out every row are skipped unread; the
    others are filtered batch by batch as they are decoded, so failing rows
    are never materialized and filter-only columns are never kept.
    """
    dataset = source.dataset
    try:
        fragments = list(dataset.get_fragments())
        row_groups_total = sum(f.num_row_groups for f in fragments)
        rows_in_source = _rows(fragments)
        if filters is not None:
            fragments = [rg for f in dataset.get_fragments(filter=filters)
                         for rg in f.split_by_row_group(filter=filters, schema=dataset.schema)]
        pruned = ds.FileSystemDataset(fragments, dataset.schema, dataset.format, dataset.filesystem)
        table = pruned.to_table(columns=columns, filter=filters, use_threads=True)
    except (OSError, pa.ArrowException) as exc:
        raise DataError(f"{source.label}.path: cannot read {source.spec.path}: {exc}") from exc
    row_groups_read = sum(f.num_row_groups for f in fragments)
    return Loaded(table, rows_in_source, _rows(fragments), row_groups_read, row_groups_total)


def row_groups(source: Source) -> list[tuple[int, ds.ParquetFileFragment]]:
    """(file index, one-row-group fragment) for every row group of the source, files in path order."""
    files = sorted(source.dataset.get_fragments(), key=lambda f: f.path)
    return [(i, group) for i, f in enumerate(files) for group in f.split_by_row_group()]


def share(groups: list, rank: int, world_size: int) -> list:
    """Worker `rank`'s share of `groups`, every `world_size`-th from the `rank`-th: shares are disjoint and cover them."""
    return groups[rank::world_size]


def _position_base(source: Source, file_index: int, group: int, rows: int) -> int:
    if file_index >= 1 << _FILE_BITS or group >= 1 << _GROUP_BITS or rows > 1 << _ROW_BITS:
        raise DataError(f"{source.label}.path: {source.spec.path} has more files, row groups or rows per row group "
                        f"than row positions can name (at most {1 << _FILE_BITS} files, {1 << _GROUP_BITS} row groups "
                        f"a file, {1 << _ROW_BITS} rows a row group)")
    return (file_index << (_GROUP_BITS + _ROW_BITS)) | (group << _ROW_BITS)


def read_positioned(source: Source, columns: list[str], filters: pc.Expression | None, filter_columns: list[str],
                    rank: int = 0, world_size: int = 1) -> Loaded:
    """Like `read_source`, over this worker's share of the row groups, with `ROW_POSITION` added.

    The kept row groups are read in one ordered scan (Arrow reads ahead), each batch with the filter
    columns and filtered in memory, so a row's place in its row group is known; pruning by
    statistics is the same as `read_source`'s.
    """
    dataset = source.dataset
    needed = list(dict.fromkeys(columns + list(filter_columns)))
    try:
        groups = share(row_groups(source), rank, world_size)
        kept = [(i, g) for i, g in groups if filters is None or g.split_by_row_group(filter=filters, schema=dataset.schema)]
        bases = {(g.path, g.row_groups[0].id): _position_base(source, i, g.row_groups[0].id, g.row_groups[0].num_rows)
                 for i, g in kept}
        scanner = ds.FileSystemDataset([g for _, g in kept], dataset.schema, dataset.format, dataset.filesystem).scanner(
            columns=needed, use_threads=True)
        parts = []
        for tagged in scanner.scan_batches():  # in order: row group after row group, batch after batch
            key = (tagged.fragment.path, tagged.fragment.row_groups[0].id)
            start = bases[key]
            bases[key] += tagged.record_batch.num_rows
            part = pa.Table.from_batches([tagged.record_batch]).append_column(
                ROW_POSITION, pa.array(np.arange(start, start + tagged.record_batch.num_rows, dtype=np.int64)))
            if filters is not None:
                part = part.filter(filters)
            parts.append(part.select(columns + [ROW_POSITION]))
        if not parts:
            empty = dataset.schema.empty_table().select(columns)
            parts.append(empty.append_column(ROW_POSITION, pa.array([], type=pa.int64())))
        table = pa.concat_tables(parts)
    except (OSError, pa.ArrowException) as exc:
        raise DataError(f"{source.label}.path: cannot read {source.spec.path}: {exc}") from exc
    rows = sum(g.row_groups[0].num_rows for _, g in groups)
    return Loaded(table, rows, sum(g.row_groups[0].num_rows for _, g in kept), len(kept), len(groups))


def _joinable(table: pa.Table, join_keys: list[str]) -> pa.Table:
    """Each row group's strings come with their own dictionary, and Arrow's join does not unify differing ones:
    one dictionary per column, and join keys decoded."""
    table = table.unify_dictionaries()
    for name in join_keys:
        column = table.column(name)
        if pa.types.is_dictionary(column.type):
            table = table.set_column(table.schema.get_field_index(name), name, column.cast(column.type.value_type))
    return table


def join_sources(tables: list[pa.Table], join_keys: list[str]) -> pa.Table:
    """Inner-join the sources on join_keys, first source's columns first."""
    joined = _joinable(tables[0], join_keys)
    for right in (_joinable(table, join_keys) for table in tables[1:]):
        overlap = [c for c in right.column_names if c in joined.column_names and c not in join_keys]
        if overlap:
            raise DataError(
                f"data.features: column {overlap[0]!r} is named by more than one source; "
                "name each column in one source only, apart from data.join_keys"
            )
        try:
            joined = joined.join(right, keys=join_keys, join_type="inner", use_threads=True)
        except pa.ArrowException as exc:
            raise DataError(f"data.join_keys: cannot join on {', '.join(join_keys)}: {exc}") from exc
    return joined


def fingerprint(sources: list[Source]) -> list[dict]:
    """What the data looked like when the run opened it: every file's size and modification time, per source
    (from the listing the run reads, through the same filesystem; no file is opened for it)."""
    found = []
    for source in sources:
        dataset = source.dataset
        try:
            infos = dataset.filesystem.get_file_info(sorted(dataset.files))
        except (OSError, pa.ArrowException) as exc:
            raise DataError(f"{source.label}.path: cannot read {source.spec.path}: {exc}") from exc
        found.append({
            "path": source.spec.path,
            "files": [{"path": i.path, "size": i.size, "mtime": i.mtime.isoformat() if i.mtime else None} for i in infos],
        })
    return found
