"""Serialize step: persist the model artifact and the holdout scores, labels and metrics.

Each object is written atomically to the output store. The artifact lands at
`model/<model_id>`; `scores.tsv` and `labels.tsv` have a header line and then
one line per holdout row, in the same order.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from railyard.storage import Store

SCORES, LABELS, METRICS = "scores.tsv", "labels.tsv", "metrics.json"


def _tsv(name: str, values: np.ndarray) -> bytes:
    sink = pa.BufferOutputStream()
    options = pacsv.WriteOptions(include_header=False, delimiter="\t", quoting_style="none")
    pacsv.write_csv(pa.table({name: values}), sink, write_options=options)
    return f"{name}\n".encode() + sink.getvalue().to_pybytes()


def write_holdout(store: Store, scores: np.ndarray, labels: pd.Series) -> tuple[str, str]:
    label_values = labels.to_numpy()
    if label_values.dtype == bool:
        label_values = label_values.astype(np.int8)
    scores_path = store.write_bytes(SCORES, _tsv("score", np.asarray(scores, dtype=np.float64)))
    labels_path = store.write_bytes(LABELS, _tsv(str(labels.name), label_values))
    return scores_path, labels_path


def write_model(store: Store, artifact: bytes, model_id: str) -> str:
    return store.write_bytes(f"model/{model_id}", artifact)


def write_metrics(store: Store, metrics: dict) -> str:
    return store.write_text(METRICS, json.dumps(metrics, indent=2) + "\n")
