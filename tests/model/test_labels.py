"""A label encoding reads codes back as the label's own values, round-trips through the manifest,
and a loaded model scores in the label's terms."""

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

import railyard
from railyard.model import build_artifact
from railyard.model.labels import LabelEncoding
from railyard.workflow import Workflow

BINARY = LabelEncoding(("no", "yes"), binary=True)
CLASSES = LabelEncoding(("food", "retail", "travel"), binary=False)


class LabelsTestWorkflow(Workflow):
    pass


def test_manifest_round_trip():
    assert BINARY.as_dict() == {"classes": ["no", "yes"], "positive_label": "yes"}
    assert CLASSES.as_dict() == {"classes": ["food", "retail", "travel"]}
    for encoding in (BINARY, CLASSES, LabelEncoding((True, False), binary=True)):
        assert LabelEncoding.from_dict(encoding.as_dict()) == encoding
    assert LabelEncoding.from_dict(None) is None


def test_decode_keeps_the_label_type():
    assert BINARY.decode(np.array([0, 1, 1], dtype=np.int8)).tolist() == ["no", "yes", "yes"]
    assert LabelEncoding((2, 1), binary=True).decode([1, 0]).tolist() == [1, 2]
    assert LabelEncoding((False, True), binary=True).decode([1, 0]).dtype == bool
    assert CLASSES.decode([2, 7, -1]).tolist() == ["travel", None, None]


def test_only_multiclass_codes_are_decoded():
    probabilities = np.array([0.2, 0.9])
    assert BINARY.decode_predictions(probabilities) is probabilities
    assert CLASSES.decode_predictions(np.array([2, 0])).tolist() == ["travel", "food"]
    assert CLASSES.decode_predictions(np.array([2, 0], dtype=object)).tolist() == ["travel", "food"]
    assert CLASSES.decode_predictions(probabilities) is probabilities
    frame = pd.DataFrame({"predicted": [1, 2], "confidence": [0.5, 0.7]})
    decoded = CLASSES.decode_predictions(frame)
    assert decoded["predicted"].tolist() == ["retail", "travel"] and decoded["confidence"].tolist() == [0.5, 0.7]


def test_loaded_model_predicts_class_names_and_records_the_encoding(tmp_path):
    rng = np.random.default_rng(0)
    features = pd.DataFrame({"x": rng.normal(size=300)})
    codes = np.digitize(features.x, [-0.5, 0.5])
    model = LogisticRegression().fit(features, codes)
    data, mid = build_artifact(model, workflow_cls=LabelsTestWorkflow, scoring="default", features=features.head(0),
                               label="category", metadata={}, label_encoding=CLASSES.as_dict())
    (tmp_path / mid).write_bytes(data)
    loaded = railyard.load_model(str(tmp_path / mid))
    assert loaded.manifest["label_encoding"] == {"classes": ["food", "retail", "travel"]}
    assert loaded.label_encoding == CLASSES
    predicted = loaded.score(features)
    assert set(predicted) <= {"food", "retail", "travel"}
    assert (predicted == CLASSES.decode(codes)).mean() > 0.9
