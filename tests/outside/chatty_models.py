"""A workflow that writes a great deal while it trains, for the tests of capped job logs.

Tests put this folder on PYTHONPATH and pass `--workflow-module chatty_models`.
"""

import logging
import sys

from sklearn.tree import DecisionTreeClassifier

from railyard import Workflow


def _codes(frame):
    return frame.apply(lambda c: c.cat.codes if c.dtype == "category" else c)


class ChattyModel(Workflow):
    """Prints custom_params["lines"] numbered lines to stdout and logs as many to the trainer's log, then fits a small tree."""

    def train(self, training_dataframe, holdout_dataframe):
        for i in range(self.custom_params.get("lines", 1000)):
            print(f"chatty stdout {i:08d}")
            logging.getLogger("railyard").info(f"chatty log {i:08d}")
        sys.stdout.flush()
        X = _codes(training_dataframe[self.classifier_features])
        return DecisionTreeClassifier(max_depth=3).fit(X, training_dataframe[self.classifier_label])

    def score(self, model, features):
        return model.predict_proba(_codes(features))[:, 1]
