"""A model's manifest and pickles are data: loading imports only its library's classes and those of the
workflow's module, and refuses any other `module:Class` before importing it, even in an artifact
loaded by its own (correct) id."""

import io
import json
import os
import pickle
import sys
import zipfile

import numpy as np
import pandas as pd
import pytest
import xgboost
from sklearn.linear_model import LogisticRegression

import railyard
from railyard.errors import ModelFormatError
from railyard.model import build_artifact, model_id
from railyard.model.artifact import MANIFEST, pack
from railyard.workflow import Workflow

rng = np.random.default_rng(2)
FRAME = pd.DataFrame({"x": rng.normal(size=300)})
LABEL = (FRAME.x > 0).astype(int)
NOT_LOADED = "which Railyard does not load; allowed: classes from"
CANARY = "railyard_canary_module"


class AllowlistTestWorkflow(Workflow):
    pass


class ThresholdModel:
    """A model class defined in the workflow's module: its pickle may name it."""

    def __init__(self, threshold: float):
        self.threshold = threshold

    def predict(self, frame):
        return (frame["x"].to_numpy() > self.threshold).astype(float)


class RunsCommand:
    def __reduce__(self):
        return os.system, ("echo pwned",)


def pickle_of_global(module: str, name: str) -> bytes:
    """A pickle that only names `module:name` (protocol 4 STACK_GLOBAL)."""
    return b"\x80\x04" + b"".join(b"\x8c" + bytes([len(s)]) + s.encode() for s in (module, name)) + b"\x93."


def artifact(model, workflow_cls=AllowlistTestWorkflow) -> tuple[bytes, str]:
    return build_artifact(model, workflow_cls=workflow_cls, scoring="default", features=FRAME.head(0), label="y", metadata={})


def repack(data: bytes, edit_manifest=None, replace_files: dict[str, bytes] | None = None) -> bytes:
    """The artifact with its manifest edited and files replaced: a well-formed artifact with a new id."""
    archive = zipfile.ZipFile(io.BytesIO(data))
    files = {name: archive.read(name) for name in archive.namelist() if name != MANIFEST}
    manifest = json.loads(archive.read(MANIFEST))
    if edit_manifest:
        edit_manifest(manifest)
    return pack(manifest, {**files, **(replace_files or {})})


def load(tmp_path, data: bytes):
    """Load the artifact by its own id, as filed under an artifact root."""
    mid = model_id(data)
    (tmp_path / "runs" / "model").mkdir(parents=True, exist_ok=True)
    (tmp_path / "runs" / "model" / mid).write_bytes(data)
    return railyard.load_model(mid, root=str(tmp_path / "runs"))


@pytest.fixture
def canary(tmp_path, monkeypatch):
    """An importable module that leaves a file behind when it is imported."""
    folder = tmp_path / "canary"
    folder.mkdir()
    source = "import pathlib\npathlib.Path(__file__).with_suffix('.imported').touch()\n\nclass Thing:\n    pass\n"
    (folder / f"{CANARY}.py").write_text(source)
    monkeypatch.syspath_prepend(str(folder))
    yield folder / f"{CANARY}.imported"
    sys.modules.pop(CANARY, None)


def set_class(path):
    def edit(manifest):
        manifest["model"]["class"] = path

    return edit


@pytest.mark.parametrize("path", ["os:system", "subprocess:Popen", "builtins:eval", f"{CANARY}:Thing"])
def test_xgboost_class_outside_xgboost_is_refused(tmp_path, canary, path):
    data, _ = artifact(xgboost.XGBClassifier(n_estimators=2).fit(FRAME, LABEL))
    with pytest.raises(ModelFormatError, match=f"names {path}, {NOT_LOADED} xgboost, {__name__}$"):
        load(tmp_path, repack(data, set_class(path)))
    assert not canary.exists()


def test_workflow_must_be_a_workflow_class(tmp_path, canary):
    data, _ = artifact(LogisticRegression().fit(FRAME, LABEL))
    not_workflows = ["os:system", "subprocess:Popen", f"{CANARY}:Missing", "railyard.workflow:Workflow", f"{__name__}:ThresholdModel"]
    for path in not_workflows:
        with pytest.raises(ModelFormatError, match=f"names {path} as its workflow, which is not a Workflow subclass"):
            load(tmp_path, repack(data, lambda m: m.update(workflow=path)))
    assert not canary.exists()


def test_pickle_calling_os_system_is_refused(tmp_path):
    data, _ = artifact(LogisticRegression().fit(FRAME, LABEL))
    payload = pickle.dumps(RunsCommand(), protocol=5)
    with pytest.raises(ModelFormatError, match=f"names {os.system.__module__}:system, {NOT_LOADED} numpy, scipy, sklearn, pandas, xgboost"):
        load(tmp_path, repack(data, replace_files={"model.pkl": payload}))


@pytest.mark.parametrize("name", ["memmap", "load", "save"])
def test_pickle_naming_numpy_file_io_is_refused(tmp_path, name):
    data, _ = artifact(LogisticRegression().fit(FRAME, LABEL))
    with pytest.raises(ModelFormatError, match=f"names numpy:{name}, {NOT_LOADED}"):
        load(tmp_path, repack(data, replace_files={"model.pkl": pickle_of_global("numpy", name)}))


def test_pickle_naming_another_module_is_refused_before_import(tmp_path, canary):
    data, _ = artifact(LogisticRegression().fit(FRAME, LABEL))
    with pytest.raises(ModelFormatError, match=f"names {CANARY}:Thing, {NOT_LOADED}"):
        load(tmp_path, repack(data, replace_files={"model.pkl": pickle_of_global(CANARY, "Thing")}))
    assert not canary.exists()


def test_pickle_may_name_classes_of_the_workflow_module(tmp_path):
    model = load(tmp_path, artifact(ThresholdModel(0.25))[0])
    np.testing.assert_array_equal(model.score(FRAME), (FRAME.x > 0.25).astype(float))


def test_pickle_may_not_name_classes_of_another_workflow_module(tmp_path):
    from workflows.logreg.workflow import LogisticRegressionModel

    data, _ = artifact(ThresholdModel(0.25), workflow_cls=LogisticRegressionModel)
    with pytest.raises(ModelFormatError, match=f"names {__name__}:ThresholdModel, {NOT_LOADED} .*workflows.logreg.workflow$"):
        load(tmp_path, data)


class TestTorch:
    @pytest.fixture
    def mlp(self):
        pytest.importorskip("torch")
        from workflows.mlp.workflow import TabularMLP, TabularMLPModel

        network = TabularMLP(numeric=["x"], categories={}, means=[0.0], stds=[1.0], hidden_sizes=[4], binary=True)
        return network, TabularMLPModel

    def test_the_workflow_module_defines_the_network(self, tmp_path, mlp):
        network, workflow_cls = mlp
        model = load(tmp_path, artifact(network, workflow_cls)[0])
        assert model.manifest["model"]["class"] == "workflows.mlp.workflow:TabularMLP"
        np.testing.assert_allclose(model.score(FRAME), network.predict(FRAME), rtol=1e-6)

    @pytest.mark.parametrize("path", ["os:system", "subprocess:Popen", f"{CANARY}:Thing", "workflows.fraud.workflow:StripeFraudModel"])
    def test_other_classes_are_refused_before_import(self, tmp_path, canary, mlp, path):
        network, workflow_cls = mlp
        data, _ = artifact(network, workflow_cls)
        with pytest.raises(ModelFormatError, match=f"names {path}, {NOT_LOADED} torch.nn, workflows.mlp.workflow$"):
            load(tmp_path, repack(data, set_class(path)))
        assert not canary.exists()

    def test_a_network_from_another_module_is_refused(self, tmp_path, mlp):
        from workflows.fraud.workflow import StripeFraudModel

        network, _ = mlp
        refused = f"names workflows.mlp.workflow:TabularMLP, {NOT_LOADED} torch.nn, workflows.fraud.workflow$"
        with pytest.raises(ModelFormatError, match=refused):
            load(tmp_path, artifact(network, StripeFraudModel)[0])
