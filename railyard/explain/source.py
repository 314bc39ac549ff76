"""The rows an explanation job explains: a parquet dataset read batch by batch, or a training spec's holdout set.

`--data` is a parquet file, a directory of parquet files or an `s3://` URI,
read in its own order with only the model's feature columns and the key
columns; or a training spec (a path ending in `.json`), whose data is loaded,
filtered and split exactly as training did, and whose holdout rows, in the
order training evaluated them, are explained. The background sample that the
model-agnostic method compares against comes from the first rows of a
dataset, or from a spec's training rows. Every file is looked at and opened through `arrow_filesystem`,
so a job started with data prefixes reads only under them (a refusal names `data`, as the service's does).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs

from railyard.errors import DataError
from railyard.pipeline.steps import StepRecorder
from railyard.storage import arrow_filesystem

BACKGROUND_POOL = 1_000  # a dataset's background sample is drawn from its first rows


def is_spec(data: str) -> bool:
    return data.lower().endswith(".json")


def _sample(frame: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    if len(frame) <= rows:
        return frame.reset_index(drop=True)
    picked = np.sort(np.random.default_rng(seed).choice(len(frame), size=rows, replace=False))
    return frame.iloc[picked].reset_index(drop=True)


class Rows:
    """Rows to explain, in order, with the feature and key columns."""

    data: str
    description: str
    keys: list[str]
    key_fields: list[pa.Field]
    total_rows: int

    def background(self, rows: int, seed: int) -> pd.DataFrame:
        raise NotImplementedError

    def batches(self, batch_rows: int, limit: int | None) -> Iterator[pa.Table]:
        raise NotImplementedError


def _missing_features(data: str, names: list[str], features: list[str]) -> None:
    missing = [f for f in features if f not in names]
    if missing:
        raise DataError(f"--data: {data} lacks the model's feature columns {', '.join(missing)}; "
                        f"the model needs {', '.join(features)}")


def _missing_keys(keys: list[str], names: list[str], where: str) -> None:
    for key in keys:
        if key not in names:
            raise DataError(f"--key {key}: {where} has no column {key!r}; its columns: {', '.join(names)}")


def _rebatched(batches: Iterator[pa.RecordBatch], batch_rows: int, limit: int | None) -> Iterator[pa.Table]:
    """Tables of exactly `batch_rows` rows (the last may be shorter), at most `limit` rows in all, in order."""
    pending, pending_rows, left = [], 0, limit
    for batch in batches:
        if left is not None:
            batch = batch.slice(0, left)
            left -= batch.num_rows
        while batch.num_rows:
            taken = batch.slice(0, batch_rows - pending_rows)
            pending.append(taken)
            pending_rows += taken.num_rows
            batch = batch.slice(taken.num_rows)
            if pending_rows == batch_rows:
                yield pa.Table.from_batches(pending)
                pending, pending_rows = [], 0
        if left == 0:
            break
    if pending_rows:
        yield pa.Table.from_batches(pending)


class ParquetRows(Rows):
    def __init__(self, data: str, features: list[str], keys: list[str]):
        self.data, self.features, self.keys = data, list(features), list(keys)
        self.description = "parquet"
        filesystem, location = arrow_filesystem(data)
        try:
            if filesystem.get_file_info(location).type == pa.fs.FileType.NotFound:
                raise DataError(f"--data: {data} does not exist")
            self.dataset = ds.dataset(location, filesystem=filesystem, format="parquet", partitioning="hive")
            self.total_rows = self.dataset.count_rows()
        except (OSError, pa.ArrowException) as exc:
            raise DataError(f"--data: cannot read {data} as parquet: {exc}") from exc
        names = self.dataset.schema.names
        _missing_features(data, names, self.features)
        _missing_keys(self.keys, names, data)
        if self.total_rows == 0:
            raise DataError(f"--data: {data} holds no rows to explain")
        self.columns = list(dict.fromkeys([*self.features, *self.keys]))
        self.key_fields = [self.dataset.schema.field(k) for k in self.keys]

    def background(self, rows: int, seed: int) -> pd.DataFrame:
        first = next(self._read(self.features, BACKGROUND_POOL, BACKGROUND_POOL))
        return _sample(first.to_pandas(), rows, seed)

    def batches(self, batch_rows: int, limit: int | None) -> Iterator[pa.Table]:
        yield from self._read(self.columns, batch_rows, limit)

    def _read(self, columns: list[str], batch_rows: int, limit: int | None) -> Iterator[pa.Table]:
        # Without threads: a threaded scan reads ahead through a whole file while the batches are explained,
        # so its memory would follow the file's size, not the batch.
        scanner = self.dataset.scanner(columns=columns, batch_size=batch_rows, batch_readahead=1, fragment_readahead=1,
                                       use_threads=False)
        try:
            yield from _rebatched(scanner.to_batches(), batch_rows, limit)
        except (OSError, pa.ArrowException) as exc:
            raise DataError(f"--data: cannot read {self.data}: {exc}") from exc


class SpecHoldoutRows(Rows):
    """A training spec's holdout rows: its sources loaded, filtered and split as training did (in memory, like training)."""

    def __init__(self, data: str, features: list[str], keys: list[str], recorder: StepRecorder):
        from railyard.pipeline.run import load_and_filter
        from railyard.pipeline.split import holdout_mask
        from railyard.spec import load_spec

        self.data, self.features = data, list(features)
        spec = load_spec(data).with_paths_relative_to(os.environ.get("BUILD_WORKING_DIRECTORY", "."))
        self.keys = list(keys) or list(spec.data.join_keys)
        self.description = "holdout rows of a training spec"
        table, _ = load_and_filter(spec, recorder)
        names = table.column_names
        _missing_features(f"{data} (its data as loaded for training)", names, self.features)
        for key in self.keys:
            if key not in names:
                raise DataError(f"--key {key}: a spec's holdout rows hold only the columns training loads "
                                f"({', '.join(names)}); key on one of them, or explain a parquet dataset")
        mask = holdout_mask(table, spec.holdout_sampling)
        columns = list(dict.fromkeys([*self.features, *self.keys]))
        self.holdout = table.select(columns).filter(mask).unify_dictionaries()
        self.training = table.select(self.features).filter(pc.invert(mask))
        del table
        self.total_rows = self.holdout.num_rows
        if self.total_rows == 0:
            raise DataError(f"--data: the holdout set of {data} is empty; there are no rows to explain")
        self.key_fields = [self.holdout.schema.field(k) for k in self.keys]

    def background(self, rows: int, seed: int) -> pd.DataFrame:
        source = self.training if self.training.num_rows else self.holdout.select(self.features)
        if source.num_rows > rows:
            picked = np.sort(np.random.default_rng(seed).choice(source.num_rows, size=rows, replace=False))
            source = source.take(pa.array(picked))
        return source.to_pandas().reset_index(drop=True)

    def batches(self, batch_rows: int, limit: int | None) -> Iterator[pa.Table]:
        yield from _rebatched(iter(self.holdout.to_batches(max_chunksize=batch_rows)), batch_rows, limit)


def open_rows(data: str, features: list[str], keys: list[str], recorder: StepRecorder) -> Rows:
    if is_spec(data):
        return SpecHoldoutRows(data, features, keys, recorder)
    return ParquetRows(data, features, keys)
