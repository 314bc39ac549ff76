"""Batch scoring: a trained model over a parquet dataset, in bounded memory.

    railyard predict --model MODEL [--model-id ID] --data PARQUET_OR_DIR_OR_S3 --output PATH [--batch-rows N] [--keep COL]...

MODEL is a model id (looked up under $RAILYARD_ARTIFACTS) or an artifact's
path named by its id; a training run's output directory or any other path
needs --model-id. The artifact's sha256 is checked against that id before
anything is loaded. The input is read batch by batch (only the model's
feature columns and the kept columns) and each batch is scored and appended
to the output parquet file, so memory follows --batch-rows, not the data's
size. The output holds `score` and the kept columns, and records the model id
in its schema metadata (`railyard.model_id`). It appears only when complete.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from railyard.errors import DataError
from railyard.model import load_model
from railyard.storage import arrow_filesystem, is_s3_uri, open_store

MODEL_ID_KEY = b"railyard.model_id"


@dataclass
class ScoringReport:
    model_id: str
    rows: int
    batches: int
    output: str


def _dataset(path: str) -> ds.Dataset:
    filesystem, location = arrow_filesystem(path)
    try:
        return ds.dataset(location, filesystem=filesystem, format="parquet", partitioning="hive")
    except (OSError, pa.ArrowException) as exc:
        raise DataError(f"--data: cannot read {path} as parquet: {exc}") from exc


def score_dataset(model_ref: str, data: str, output: str, *, batch_rows: int = 100_000, keep: tuple[str, ...] = (),
                  expected_id: str | None = None) -> ScoringReport:
    model = load_model(model_ref, expected_id=expected_id)
    dataset = _dataset(data)
    columns = list(dict.fromkeys([*model.features, *keep]))
    missing = [c for c in columns if c not in dataset.schema.names]
    if missing:
        raise DataError(f"--data: {data} lacks the columns {', '.join(missing)}; the model needs {', '.join(model.features)}")
    scanner = dataset.scanner(columns=columns, batch_size=batch_rows, batch_readahead=1, fragment_readahead=1, use_threads=True)

    schema = pa.schema([pa.field("score", pa.float64()), *[dataset.schema.field(c) for c in keep]],
                       metadata={MODEL_ID_KEY: model.model_id.encode()})
    rows = batches = 0
    with tempfile.TemporaryDirectory(prefix="railyard-predict-") as tmp:
        local = Path(tmp) / "scores.parquet"
        with pq.ParquetWriter(local, schema) as writer:
            for batch in scanner.to_batches():
                if batch.num_rows == 0:
                    continue
                scores = np.asarray(model.score(batch.to_pandas()), dtype=np.float64).reshape(-1)
                writer.write_table(pa.table([pa.array(scores), *[batch.column(c) for c in keep]], schema=schema))
                rows += batch.num_rows
                batches += 1
        destination = _publish(local, output)
    return ScoringReport(model.model_id, rows, batches, destination)


def _publish(local: Path, output: str) -> str:
    """Copy the finished file to `output` atomically (temp file and rename locally, one upload on S3)."""
    target = output if is_s3_uri(output) else str(Path(output).absolute())
    head, _, name = target.rpartition("/")
    return open_store(head).put_file(name, local)
