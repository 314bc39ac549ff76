"""load_model checks an artifact against an id from a trusted place: the reference itself, the
artifact's file name, or expected_id; never an id read from beside the artifact."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import railyard
from railyard.errors import ModelFormatError
from railyard.model import build_artifact
from railyard.workflow import Workflow

rng = np.random.default_rng(1)
FRAME = pd.DataFrame({"x": rng.normal(size=300)})
LABEL = (FRAME.x > 0).astype(int)
UNVERIFIABLE = "cannot be verified; pass the model id"


class LoadingTestWorkflow(Workflow):
    pass


def artifact(c: float = 1.0) -> tuple[bytes, str]:
    model = LogisticRegression(C=c).fit(FRAME, LABEL)
    return build_artifact(model, workflow_cls=LoadingTestWorkflow, scoring="default", features=FRAME.head(0), label="y", metadata={})


def run_dir(path, data: bytes, mid: str, named: str | None = None):
    """A training run's output directory whose result.json names `named` (default: the artifact's id)."""
    (path / "model").mkdir(parents=True)
    (path / "model" / mid).write_bytes(data)
    (path / "result.json").write_text(json.dumps({"status": {}, "result": {"model_id": named or mid}, "exception_info": None}))
    return path


def test_renamed_artifact_needs_expected_id(tmp_path):
    data, mid = artifact()
    (tmp_path / "model.zip").write_bytes(data)
    with pytest.raises(ModelFormatError, match=UNVERIFIABLE):
        railyard.load_model(str(tmp_path / "model.zip"))
    assert railyard.load_model(str(tmp_path / "model.zip"), expected_id=mid).model_id == mid
    _, other = artifact(c=0.5)
    with pytest.raises(ModelFormatError, match=f"hashes to {mid}, not {other}; refusing to load a tampered artifact"):
        railyard.load_model(str(tmp_path / "model.zip"), expected_id=other)


def test_run_directory_needs_expected_id(tmp_path):
    data, mid = artifact()
    run = run_dir(tmp_path / "run", data, mid)
    with pytest.raises(ModelFormatError, match=UNVERIFIABLE):
        railyard.load_model(str(run))
    model = railyard.load_model(str(run), expected_id=mid)
    assert model.model_id == mid and model.source.endswith(f"model/{mid}")


def test_tampered_artifact_with_a_forged_result_json_is_refused(tmp_path):
    data, mid = artifact()
    forged, forged_id = artifact(c=0.01)  # the attacker's model, filed under the trusted id
    run = run_dir(tmp_path / "run", forged, mid, named=forged_id)
    (run / "model" / forged_id).write_bytes(forged)  # and under its own id, which the forged result.json names
    with pytest.raises(ModelFormatError, match=UNVERIFIABLE):
        railyard.load_model(str(run))
    with pytest.raises(ModelFormatError, match=f"hashes to {forged_id}, not {mid}; refusing to load a tampered artifact"):
        railyard.load_model(str(run), expected_id=mid)
    with pytest.raises(ModelFormatError, match="refusing to load a tampered artifact"):
        railyard.load_model(str(run / "model" / mid))


def test_id_lookup_and_expected_id_must_agree(tmp_path):
    data, mid = artifact()
    run_dir(tmp_path / "runs" / "job-1", data, mid)
    assert railyard.load_model(mid, root=str(tmp_path / "runs"), expected_id=mid).model_id == mid
    _, other = artifact(c=0.5)
    with pytest.raises(ModelFormatError, match=f"{mid} is not the expected model {other}"):
        railyard.load_model(mid, root=str(tmp_path / "runs"), expected_id=other)
    with pytest.raises(ModelFormatError, match="expected_id: 'sha256.abc' is not a model id"):
        railyard.load_model(mid, root=str(tmp_path / "runs"), expected_id="sha256.abc")


def test_run_directory_without_that_model(tmp_path):
    data, mid = artifact()
    _, other = artifact(c=0.5)
    run = run_dir(tmp_path / "run", data, mid)
    with pytest.raises(ModelFormatError, match=f"cannot load model {run}: cannot read {run}/model/{other}"):
        railyard.load_model(str(run), expected_id=other)
