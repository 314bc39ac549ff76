"""`load_model`: find an artifact, verify it against a trusted model id, and rebuild the model.

The id an artifact is checked against never comes from beside the artifact:
  * `ref` is a model id (`sha256.…`), looked up as `*/model/<id>` under the
    root (`root`, else the runs of the artifact root: $RAILYARD_ARTIFACTS/runs, ./railyard-data/runs by default);
  * `ref` is the path or URI of an artifact file named by its id (`…/model/sha256.…`);
  * any other `ref` (a run's output directory or S3 prefix, a renamed file) needs
    `expected_id=`; a run's model is then read from its `model/<expected_id>`.
The bytes must hash to that id before anything is unpickled or imported, and
the formats import only allowlisted classes (`formats/importing.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from railyard import artifacts
from railyard.errors import DataError, ModelFormatError, StorageError
from railyard.model.artifact import ArtifactReader, is_model_id, model_id
from railyard.model.formats import load_object
from railyard.model.formats.importing import import_workflow, workflow_module
from railyard.model.labels import LabelEncoding
from railyard.run_layout import RESULT
from railyard.storage import open_store

MODEL_DIR = "model"


@dataclass
class Model:
    model_id: str
    estimator: Any
    manifest: dict
    source: str
    workflow: type | None = None  # None where the workflow's module is not installed here

    @property
    def features(self) -> list[str]:
        return self.manifest["features"]

    @property
    def label(self) -> str:
        return self.manifest["label"]

    @property
    def label_encoding(self) -> LabelEncoding | None:
        """How the label was encoded for training; None when the model was trained on the label as it is."""
        return LabelEncoding.from_dict(self.manifest.get("label_encoding"))

    def prepare(self, dataframe: pd.DataFrame) -> pd.DataFrame:
        """The model's feature columns, categoricals encoded exactly as in training; columns the model
        reads as free text (fastText's `text_columns`) keep their text, seen in training or not."""
        missing = [c for c in self.features if c not in dataframe.columns]
        if missing:
            raise DataError(f"input is missing the model's feature columns: {', '.join(missing)}")
        features = dataframe[self.features].copy()
        text = set(getattr(self.estimator, "text_columns", ()))
        for name, categories in self.manifest["categories"].items():
            if name in text:
                features[name] = features[name].astype(object)
                continue
            codes = pd.Index(categories).get_indexer(np.asarray(features[name], dtype=object))
            features[name] = pd.Categorical.from_codes(codes, categories=categories)  # unseen values become NaN
        return features

    def score(self, dataframe: pd.DataFrame):
        """Scores computed exactly as on the holdout set during training: for an encoded label,
        P(label == positive_label), or the predicted class names."""
        from railyard.workflow import default_score

        features = self.prepare(dataframe)
        encoding = self.label_encoding
        if self.manifest["scoring"] == "workflow":
            if self.workflow is None:
                raise ModelFormatError(f"cannot import the workflow {self.manifest['workflow']} that scores this model")
            workflow = self.workflow(classifier_features=self.features, classifier_label=self.label,
                                     label_classes=list(encoding.classes) if encoding else None)
            scores = workflow.score(self.estimator, features)
        else:
            scores = default_score(self.estimator, features)
        return encoding.decode_predictions(scores) if encoding else scores


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


def _read(uri: str, expected_id: str | None) -> tuple[str, bytes, str]:
    """(source, bytes, id they must hash to) for an artifact path or, given expected_id, a run directory."""
    head, name = _split(uri)
    expected = expected_id or (name if is_model_id(name) else None)
    if expected is None:
        raise ModelFormatError(
            f"{uri}: a run directory or an artifact not named by its id cannot be verified; "
            "pass the model id (sha256.…) instead, or as expected_id= (--model-id)"
        )
    run, artifact = open_store(uri), f"{MODEL_DIR}/{expected_id}"
    if expected_id is not None and (run.exists(RESULT) or run.exists(artifact)):
        return run.url(artifact), run.read_bytes(artifact), expected_id
    parent = open_store(head)
    return parent.url(name), parent.read_bytes(name), expected


def load_model(ref: str, *, root: str | None = None, expected_id: str | None = None) -> Model:
    """The model `ref` names, once its bytes hash to a trusted id: `ref` itself, its file name, or `expected_id`."""
    if expected_id is not None and not is_model_id(expected_id):
        raise ModelFormatError(f"expected_id: {expected_id!r} is not a model id (sha256. and 52 base32 characters)")
    try:
        if is_model_id(ref):
            if expected_id not in (None, ref):
                raise ModelFormatError(f"{ref} is not the expected model {expected_id}")
            source, data = _find_by_id(ref, root or artifacts.runs())
            expected = ref
        else:
            source, data, expected = _read(ref, expected_id)
    except StorageError as exc:
        raise ModelFormatError(f"cannot load model {ref}: {exc}") from exc
    actual = model_id(data)
    if actual != expected:
        raise ModelFormatError(f"{source}: content hashes to {actual}, not {expected}; refusing to load a tampered artifact")
    reader = ArtifactReader(data, source)
    workflow_path = reader.manifest.get("workflow")
    workflow = import_workflow(workflow_path)
    estimator = load_object(reader.manifest["model"], reader.read, workflow_module(workflow_path))
    return Model(actual, estimator, reader.manifest, source, workflow)
