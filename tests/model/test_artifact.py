"""Model artifacts: deterministic, content-addressed, verified before loading, and
each library saved in its own format."""

import zipfile

import numpy as np
import pandas as pd
import pytest
import xgboost
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

import railyard
from railyard.errors import ModelFormatError
from railyard.model import build_artifact, is_model_id, model_id
from railyard.workflow import Workflow

rng = np.random.default_rng(0)
FRAME = pd.DataFrame({"kind": pd.Categorical(rng.choice(["a", "b", "c"], 400)), "x": rng.normal(size=400)})
LABEL = (FRAME.x + (FRAME.kind == "a") > 0.5).astype(int)


class ArtifactTestWorkflow(Workflow):
    pass


def artifact_of(model):
    return build_artifact(model, workflow_cls=ArtifactTestWorkflow, scoring="default", features=FRAME.head(0), label="y", metadata={})


def xgb_pipeline():
    return Pipeline([("boosted", xgboost.XGBRegressor(n_estimators=5, enable_categorical=True, tree_method="hist"))]).fit(FRAME, LABEL)


def test_model_id_is_base32_sha256():
    assert model_id(b"") == "sha256.4OYMIQUY7QOBJGX36TEJS35ZEQT24QPEMSNZGTFESWMRW6CSXBKQ"
    assert is_model_id(model_id(b"abc")) and not is_model_id("sha256.abc")


def test_same_model_same_bytes_and_id():
    model = xgb_pipeline()
    assert artifact_of(model) == artifact_of(model)


def test_xgboost_inside_a_pipeline_keeps_its_own_format(tmp_path):
    data, mid = artifact_of(xgb_pipeline())
    names = zipfile.ZipFile(__import__("io").BytesIO(data)).namelist()
    assert names == ["MANIFEST.json", "steps/0/model.ubj"]
    (tmp_path / mid).write_bytes(data)
    loaded = railyard.load_model(str(tmp_path / mid))
    np.testing.assert_allclose(loaded.score(FRAME), xgb_pipeline().predict(FRAME))


def test_tampered_artifact_is_refused(tmp_path):
    data, mid = artifact_of(LogisticRegression().fit(FRAME[["x"]], LABEL))
    tampered = bytearray(data)
    tampered[-30] ^= 0xFF
    (tmp_path / mid).write_bytes(bytes(tampered))
    with pytest.raises(ModelFormatError, match="refusing to load a tampered artifact"):
        railyard.load_model(str(tmp_path / mid))


def test_lookup_by_id_under_a_root(tmp_path, monkeypatch):
    data, mid = artifact_of(LogisticRegression().fit(FRAME[["x"]], LABEL))
    (tmp_path / "runs" / "job-1" / "model").mkdir(parents=True)
    (tmp_path / "runs" / "job-1" / "model" / mid).write_bytes(data)
    monkeypatch.setenv("RAILYARD_ARTIFACTS", str(tmp_path))  # runs live under <root>/runs
    assert railyard.load_model(mid).manifest["model"]["format"] == "sklearn"
    with pytest.raises(ModelFormatError, match="not found under"):
        railyard.load_model(model_id(b"other"))


def test_scoring_checks_feature_columns(tmp_path):
    data, mid = artifact_of(xgb_pipeline())
    (tmp_path / mid).write_bytes(data)
    with pytest.raises(railyard.errors.DataError, match="missing the model's feature columns: kind"):
        railyard.load_model(str(tmp_path / mid)).score(FRAME[["x"]])


def test_unseen_categories_score_as_missing(tmp_path):
    data, mid = artifact_of(xgb_pipeline())
    (tmp_path / mid).write_bytes(data)
    model = railyard.load_model(str(tmp_path / mid))
    fresh = pd.DataFrame({"kind": ["c", "a", "zzz"], "x": [0.1, 0.2, 0.3]})  # plain strings, unseen value
    scores = model.score(fresh)
    assert scores.shape == (3,) and np.isfinite(scores).all()
