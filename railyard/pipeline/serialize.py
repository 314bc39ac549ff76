"""Serialize step: persist the model artifact and the holdout scores, labels and metrics.

Each object is written atomically to the output store. The artifact lands at
`model/<model_id>`; `scores.tsv` and `labels.tsv` have a header line and then
one line per holdout row, in the same order.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from railyard.storage import Store

SCORES, LABELS, METRICS = "scores.tsv", "labels.tsv", "metrics.json"


def _write_tsv(store: Store, relpath: str, columns: dict[str, np.ndarray]) -> str:
    """Written to a local temporary file first, then to the store: never whole in memory, as a large holdout's
    text would be."""
    options = pacsv.WriteOptions(include_header=False, delimiter="\t", quoting_style="none")
    with tempfile.TemporaryDirectory(prefix="railyard-tsv-") as directory:
        path = Path(directory) / relpath
        with open(path, "wb") as out:
            out.write(("\t".join(columns) + "\n").encode())
            pacsv.write_csv(pa.table(columns), out, write_options=options)
        return store.put_file(relpath, path)


def _values(values) -> np.ndarray:
    values = np.asarray(values)
    if values.dtype == bool:
        return values.astype(np.int8)
    return values.astype(np.float64) if values.dtype.kind in "iuf" else values.astype(str)


def write_holdout(store: Store, scores, labels: pd.Series) -> tuple[str, str]:
    """scores: one value per row, or a DataFrame whose columns all go to scores.tsv."""
    if isinstance(scores, pd.DataFrame):
        score_columns = {str(name): _values(scores[name].to_numpy()) for name in scores.columns}
    else:
        score_columns = {"score": _values(np.asarray(scores).reshape(-1))}
    scores_path = _write_tsv(store, SCORES, score_columns)
    labels_path = _write_tsv(store, LABELS, {str(labels.name): _values(labels.to_numpy())})
    return scores_path, labels_path


def write_model(store: Store, artifact: bytes, model_id: str) -> str:
    return store.write_bytes(f"model/{model_id}", artifact)


def write_metrics(store: Store, metrics: dict) -> str:
    return store.write_text(METRICS, json.dumps(metrics, indent=2) + "\n")
