"""Small real models trained once per session, and running `railyard explain` and the trainer's `--explain`."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO, example_spec, run_trainer, write_spec


@dataclass
class Trained:
    run: Path  # the training run's output directory
    model_id: str

    @property
    def artifact(self) -> Path:
        return self.run / "model" / self.model_id


def train(tmp: Path, spec: dict, *more: str) -> Trained:
    from railyard import trainer

    assert trainer.main(["--spec", str(write_spec(tmp, spec)), "--output", str(tmp / "run"), *more]) == 0
    result = json.loads((tmp / "run" / "result.json").read_text())
    return Trained(tmp / "run", result["result"]["model_id"])


@pytest.fixture(scope="session")
def fraud_model(tmp_path_factory, charges_path) -> Trained:
    """The talk's XGBoost Pipeline (StripeFraudModel), with few trees."""
    spec = example_spec("fraud", charges_path)
    spec["train"]["custom_params"].update(n_estimators=20, max_depth=4)
    return train(tmp_path_factory.mktemp("fraud"), spec)


@pytest.fixture(scope="session")
def logreg_model(tmp_path_factory, charges_path) -> Trained:
    """A scikit-learn Pipeline: impute, one-hot, scale, logistic regression."""
    return train(tmp_path_factory.mktemp("logreg"), example_spec("logreg", charges_path))


@pytest.fixture(scope="session")
def mlp_model(tmp_path_factory, charges_path) -> Trained:
    """The torch MLP, one epoch."""
    spec = example_spec("mlp", charges_path)
    spec["train"]["custom_params"].update(epochs=1)
    return train(tmp_path_factory.mktemp("mlp"), spec)


@pytest.fixture(scope="session")
def forest_model(tmp_path_factory, charges_path) -> Trained:
    """A Pipeline ending in a scikit-learn random forest, on numeric features."""
    spec = example_spec("logreg", charges_path)
    spec["train"].update(workflow_name="ForestInPipeline", classifier_features=["charge_amount", "countries_used_24h"], custom_params={})
    return train(tmp_path_factory.mktemp("forest"), spec, "--workflow-module", "tests.explain.tree_models")


def explain(*args) -> subprocess.CompletedProcess:
    """`railyard explain` in a fresh process."""
    return subprocess.run([sys.executable, "-m", "railyard.cli", "explain", *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=600)


def trainer_explain(*args) -> subprocess.CompletedProcess:
    """The trainer command's `--explain`, as a launcher runs it."""
    return run_trainer("--explain", *args, timeout=600)


def result_of(output: Path) -> dict:
    return json.loads((output / "result.json").read_text())


@pytest.fixture(scope="session")
def descriptions_path(tmp_path_factory) -> Path:
    from workflows.data import descriptions

    return descriptions.write(5_000, tmp_path_factory.mktemp("text") / "descriptions.parquet")


@pytest.fixture(scope="session")
def fasttext_model(tmp_path_factory, descriptions_path) -> Trained:
    """fastText on two text columns, with the two-valued label is_disputed."""
    spec = example_spec("fasttext", descriptions_path)
    spec["data"]["features"][0]["names"].append("is_disputed")
    spec["train"].update(label="is_disputed", custom_params={"epoch": 5})
    return train(tmp_path_factory.mktemp("fasttext"), spec)
