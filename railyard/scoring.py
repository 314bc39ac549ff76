"""Batch scoring: a trained model over a parquet dataset, in bounded memory.

    railyard predict --model MODEL [--model-id ID] --data PARQUET_OR_DIR_OR_S3 --output PATH [--batch-rows N] [--keep COL]...

MODEL is a model id (looked up under $RAILYARD_ARTIFACTS) or an artifact's
path named by its id; a training run's output directory or any other path
needs --model-id. The artifact's sha256 is checked against that id before
anything is loaded. The input is read batch by batch (only the model's
feature columns and the kept columns) and each batch is scored and appended
to the output parquet file, so memory follows --batch-rows, not the data's
size. The output holds `score`, the numeric columns the model's score comes
with (a forecast's `yhat_lower` and `yhat_upper`) and the kept columns, and records the model id
in its schema metadata (`railyard.model_id`). It appears only when complete.

A model whose label was encoded speaks in the label's terms: with
`train.positive_label`, `score` is P(label == positive_label); for a
multi-class string label it is the predicted class name (a string column).
The schema metadata then also records the label (`railyard.label`) and its
encoding (`railyard.label_encoding`, JSON: `classes` and `positive_label`).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from railyard.errors import DataError
from railyard.model import load_model
from railyard.storage import arrow_filesystem, is_s3_uri, open_store

MODEL_ID_KEY = b"railyard.model_id"
LABEL_KEY = b"railyard.label"
LABEL_ENCODING_KEY = b"railyard.label_encoding"


@dataclass
class ScoringReport:
    model_id: str
    rows: int
    batches: int
    output: str
    score: str  # what the score column holds, in the label's own terms


def score_meaning(label: str, encoding) -> str:
    if encoding is None:
        return "the model's score"
    if encoding.binary:
        return f"P({label} == {encoding.positive_label!r})"
    return f"the predicted {label}, one of {len(encoding.classes)} classes"


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
    # Without threads: Arrow's threaded scan reads ahead through the whole file, whatever the batch size.
    scanner = dataset.scanner(columns=columns, batch_size=batch_rows, batch_readahead=1, fragment_readahead=1, use_threads=False)

    encoding = model.label_encoding
    metadata = {MODEL_ID_KEY: model.model_id.encode()}
    if encoding is not None:
        metadata |= {LABEL_KEY: model.label.encode(), LABEL_ENCODING_KEY: json.dumps(encoding.as_dict()).encode()}
    class_names = encoding is not None and not encoding.binary
    score_field = pa.field("score", pa.string() if class_names else pa.float64())
    kept_fields = [dataset.schema.field(c) for c in keep]
    rows = batches = 0
    writer = None
    with tempfile.TemporaryDirectory(prefix="railyard-predict-") as tmp:
        local = Path(tmp) / "scores.parquet"
        try:
            for batch in scanner.to_batches():
                if batch.num_rows == 0:
                    continue
                scored = model.score(batch.to_pandas())
                beside = _beside_the_score(scored)
                if writer is None:  # the first batch says which columns come with the score (a forecast's interval)
                    names = [name for name in beside if name not in keep and name != "score"]
                    schema = pa.schema([score_field, *[pa.field(name, pa.float64()) for name in names], *kept_fields],
                                       metadata=metadata)
                    writer = pq.ParquetWriter(local, schema)
                columns = [_score_column(scored, class_names), *[beside.get(name, pa.nulls(batch.num_rows, pa.float64())) for name in names],
                           *[batch.column(c) for c in keep]]
                writer.write_table(pa.table(columns, schema=schema))
                rows += batch.num_rows
                batches += 1
            if writer is None:
                writer = pq.ParquetWriter(local, pa.schema([score_field, *kept_fields], metadata=metadata))
        finally:
            if writer is not None:
                writer.close()
        destination = _publish(local, output)
    return ScoringReport(model.model_id, rows, batches, destination, score_meaning(model.label, encoding))


def _beside_the_score(scored) -> dict[str, pa.Array]:
    """The numeric columns a model's score comes with, after the first (a forecast's yhat_lower and yhat_upper)."""
    if not isinstance(scored, pd.DataFrame):
        return {}
    return {str(name): pa.array(scored[name].to_numpy(dtype=np.float64)) for name in list(scored.columns)[1:]
            if pd.api.types.is_numeric_dtype(scored[name])}


def _score_column(scores, class_names: bool) -> pa.Array:
    """The evaluated score: a DataFrame's first column (a forecast's yhat), as floats or class names."""
    if isinstance(scores, pd.DataFrame):
        scores = scores.iloc[:, 0]
    if class_names:
        return pa.array(np.asarray(scores, dtype=object).reshape(-1), type=pa.string())
    return pa.array(np.asarray(scores, dtype=np.float64).reshape(-1))


def _publish(local: Path, output: str) -> str:
    """Copy the finished file to `output` atomically (temp file and rename locally, one upload on S3)."""
    target = output if is_s3_uri(output) else str(Path(output).absolute())
    head, _, name = target.rpartition("/")
    return open_store(head).put_file(name, local)
