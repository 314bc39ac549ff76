"""Serialize step: persist the model artifact and the holdout scores, labels and metrics.

Each object is written atomically to the output store. The artifact lands at
`model/<model_id>`; `scores.tsv` and `labels.tsv` have a header line and then
one line per holdout row, in the same order; `scores.tsv` ends each line with
the row's `data.join_keys`.
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


def _key(values: pd.Series) -> pa.Array:
    """A join key's values as they are in the input: integers stay integers."""
    array = pa.array(values)
    return array.dictionary_decode() if pa.types.is_dictionary(array.type) else array


def write_holdout(store: Store, scores, labels: pd.Series, keys: pd.DataFrame | None = None) -> tuple[str, str]:
    """scores: one value per row, or a DataFrame whose columns all go to scores.tsv; then `keys`, the spec's
    data.join_keys, so that each score joins back to its input row."""
    if isinstance(scores, pd.DataFrame):
        score_columns = {str(name): _values(scores[name].to_numpy()) for name in scores.columns}
    else:
        score_columns = {"score": _values(np.asarray(scores).reshape(-1))}
    if keys is not None:
        score_columns.update({str(name): _key(keys[name]) for name in keys.columns if str(name) not in score_columns})
    scores_path = _write_tsv(store, SCORES, score_columns)
    labels_path = _write_tsv(store, LABELS, {str(labels.name): _values(labels.to_numpy())})
    return scores_path, labels_path


def write_model(store: Store, artifact: bytes, model_id: str) -> str:
    return store.write_bytes(f"model/{model_id}", artifact)


def write_metrics(store: Store, metrics: dict) -> str:
    return store.write_text(METRICS, json.dumps(metrics, indent=2) + "\n")
