"""What an explanation job writes: explanations.parquet, batch by batch, and importance.json.

`explanations.parquet` holds the key columns, one float64 column per feature
(its contribution) and `bias` (the expected output the contributions start
from), one row per explained row in input order; its schema metadata records
the model id and the method. It is written to a local temporary file one
batch at a time, so memory follows the batch, and published whole. The
importance is the mean absolute contribution per feature, summed as the
batches go.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from railyard.errors import DataError
from railyard.explain.contributions import Contributions
from railyard.storage import Store

EXPLANATIONS_FILE = "explanations.parquet"
IMPORTANCE_FILE = "importance.json"
BIAS = "bias"
MODEL_ID_KEY = b"railyard.model_id"
METHOD_KEY = b"railyard.explanation_method"


class ExplanationWriter:
    def __init__(self, path: Path, features: list[str], key_fields: list[pa.Field], model_id: str, method: str):
        keys = [f.name for f in key_fields]
        for key in keys:
            if key in features or key == BIAS:
                raise DataError(f"--key {key}: the explanations already have a column {key!r} "
                                "(a feature's contribution or the bias); key on another column")
        if BIAS in features:
            raise DataError(f"the model has a feature named {BIAS!r}, which is the name of the explanations' bias column")
        self.path, self.features, self.key_fields = path, list(features), list(key_fields)
        self.schema = pa.schema(
            [*self.key_fields, *(pa.field(name, pa.float64()) for name in [*self.features, BIAS])],
            metadata={MODEL_ID_KEY: model_id.encode(), METHOD_KEY: method.encode()},
        )
        self.writer = pq.ParquetWriter(path, self.schema)
        self.rows = self.batches = 0
        self.absolute_sums = np.zeros(len(self.features))
        self.max_additivity_error: float | None = None

    def write(self, contributions: Contributions, keys: list[pa.Array]) -> None:
        values, bias = contributions.values, contributions.bias
        if values.shape[1] != len(self.features):
            raise ValueError(f"expected {len(self.features)} contributions per row, got {values.shape[1]}")
        columns = [*keys, *(pa.array(values[:, j]) for j in range(values.shape[1])), pa.array(bias)]
        self.writer.write_table(pa.table(columns, schema=self.schema))
        self.rows += values.shape[0]
        self.batches += 1
        self.absolute_sums += np.abs(values).sum(axis=0)
        if contributions.output is not None:
            error = float(np.max(np.abs(values.sum(axis=1) + bias - contributions.output), initial=0.0))
            self.max_additivity_error = max(error, self.max_additivity_error or 0.0)

    def close(self) -> None:
        self.writer.close()

    def importance(self) -> list[dict]:
        means = self.absolute_sums / max(self.rows, 1)
        ranked = sorted(zip(self.features, means), key=lambda pair: -pair[1])
        return [{"feature": name, "mean_abs_contribution": float(mean)} for name, mean in ranked]


def publish(store: Store, writer: ExplanationWriter, model_id: str, method: str) -> tuple[str, str]:
    """(explanations URL, importance URL), each written atomically."""
    explanations = store.put_file(EXPLANATIONS_FILE, writer.path)
    document = {"model_id": model_id, "method": method, "rows": writer.rows, "importance": writer.importance()}
    importance = store.write_text(IMPORTANCE_FILE, json.dumps(document, indent=2) + "\n")
    return explanations, importance
