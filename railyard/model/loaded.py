"""`load_model`: find an artifact by id or path, verify its sha256, and rebuild the model.

`ref` may be:
  * a model id (`sha256.…`), looked up as `*/model/<id>` under the artifact
    root (`root`, else $RAILYARD_ARTIFACTS, else ./railyard-runs);
  * a training run's output directory or S3 prefix (its result.json names the model);
  * the path or URI of an artifact file.
The bytes must hash to the id they are filed under before anything is unpickled.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from railyard.errors import DataError, ModelFormatError, StorageError
from railyard.model.artifact import ArtifactReader, is_model_id, model_id
from railyard.model.formats import load_object
from railyard.model.formats.importing import import_class
from railyard.result import read_result
from railyard.storage import open_store

DEFAULT_ROOT = "./railyard-runs"
MODEL_DIR = "model"


@dataclass
class Model:
    model_id: str
    estimator: Any
    manifest: dict
    source: str

    @property
    def features(self) -> list[str]:
        return self.manifest["features"]

    @property
    def label(self) -> str:
        return self.manifest["label"]

    def prepare(self, dataframe: pd.DataFrame) -> pd.DataFrame:
        """The model's feature columns, categoricals encoded exactly as in training."""
        missing = [c for c in self.features if c not in dataframe.columns]
        if missing:
            raise DataError(f"input is missing the model's feature columns: {', '.join(missing)}")
        features = dataframe[self.features].copy()
        for name, categories in self.manifest["categories"].items():
            codes = pd.Index(categories).get_indexer(np.asarray(features[name], dtype=object))
            features[name] = pd.Categorical.from_codes(codes, categories=categories)  # unseen values become NaN
        return features

    def score(self, dataframe: pd.DataFrame):
        """Scores computed exactly as on the holdout set during training."""
        from railyard.workflow import Workflow, default_score

        features = self.prepare(dataframe)
        if self.manifest["scoring"] == "workflow":
            workflow_cls = import_class(self.manifest["workflow"])
            workflow: Workflow = workflow_cls(classifier_features=self.features, classifier_label=self.label)
            return workflow.score(self.estimator, features)
        return default_score(self.estimator, features)


def _split(uri: str) -> tuple[str, str]:
    head, _, name = str(uri).rstrip("/").rpartition("/")
    return head or ".", name


def _find_by_id(ref: str, root: str) -> tuple[str, bytes]:
    store = open_store(root)
    suffix = f"{MODEL_DIR}/{ref}"
    for relpath in store.list():
        if relpath.endswith(suffix):
            return store.url(relpath), store.read_bytes(relpath)
    raise ModelFormatError(f"model {ref} not found under {store.uri}")


def _read(uri: str) -> tuple[str, bytes, str | None]:
    """(source, bytes, expected id) for a run directory or an artifact path."""
    head, name = _split(uri)
    result = read_result(uri)
    if result is not None:
        location = open_store(uri)
        expected = (result.get("result") or {}).get("model_id")
        if not expected:
            raise ModelFormatError(f"{uri}: this run has no model (job_state {result['status']['transition']['job_state']})")
        return location.url(f"{MODEL_DIR}/{expected}"), location.read_bytes(f"{MODEL_DIR}/{expected}"), expected
    parent = open_store(head)
    return parent.url(name), parent.read_bytes(name), name if is_model_id(name) else None


def load_model(ref: str, *, root: str | None = None) -> Model:
    try:
        if is_model_id(ref):
            source, data = _find_by_id(ref, root or os.environ.get("RAILYARD_ARTIFACTS", DEFAULT_ROOT))
            expected = ref
        else:
            source, data, expected = _read(ref)
    except StorageError as exc:
        raise ModelFormatError(f"cannot load model {ref}: {exc}") from exc
    actual = model_id(data)
    if expected is not None and actual != expected:
        raise ModelFormatError(f"{source}: content hashes to {actual}, not {expected}; refusing to load a tampered artifact")
    reader = ArtifactReader(data, source)
    estimator = load_object(reader.manifest["model"], reader.read)
    return Model(actual, estimator, reader.manifest, source)
