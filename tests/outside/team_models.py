"""Workflows that live outside the repository's `workflows` package, for the tests.

Tests put this folder on PYTHONPATH and pass `--workflow-module team_models`.
"""

import os
import time
from pathlib import Path

from sklearn.tree import DecisionTreeClassifier

from railyard import Workflow


def _codes(frame):
    return frame.apply(lambda c: c.cat.codes if c.dtype == "category" else c)


class OutsideTreeModel(Workflow):
    def train(self, training_dataframe, holdout_dataframe):
        X = _codes(training_dataframe[self.classifier_features])
        return DecisionTreeClassifier(**self.custom_params).fit(X, training_dataframe[self.classifier_label])

    def score(self, model, features):
        return model.predict_proba(_codes(features))[:, 1]


class ExplodingModel(Workflow):
    def train(self, training_dataframe, holdout_dataframe):
        raise ValueError("learning rate must be positive")


class SleepyModel(Workflow):
    def train(self, training_dataframe, holdout_dataframe):
        Path(os.environ["RAILYARD_TEST_MARKER"]).write_text("training")
        time.sleep(120)


class MemoryHungryModel(Workflow):
    """Grows its resident memory by 64 MiB every 50 ms, to about 4 GiB."""

    def train(self, training_dataframe, holdout_dataframe):
        hoard = []
        for _ in range(64):
            hoard.append(bytearray(64 * 2**20))
            time.sleep(0.05)
        return hoard


class CountingSlowModel(Workflow):
    """Notes each start in $RAILYARD_TEST_COUNTER, waits custom_params["seconds"], then fits a small tree
    (custom_params["max_depth"], default 3)."""

    def train(self, training_dataframe, holdout_dataframe):
        with open(os.environ["RAILYARD_TEST_COUNTER"], "a") as counter:
            counter.write("started\n")
        time.sleep(self.custom_params.get("seconds", 5))
        X = _codes(training_dataframe[self.classifier_features])
        return DecisionTreeClassifier(max_depth=self.custom_params.get("max_depth", 3)).fit(X, training_dataframe[self.classifier_label])

    def score(self, model, features):
        return model.predict_proba(_codes(features))[:, 1]
