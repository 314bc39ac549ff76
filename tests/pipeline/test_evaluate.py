"""Evaluation metrics agree with scikit-learn's, and the kind of problem is picked from the label."""

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from railyard.pipeline.evaluate import evaluate


@pytest.mark.parametrize("seed", range(4))
def test_binary_metrics_match_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    labels = (rng.random(3_000) < 0.1).astype(int)
    scores = np.round(np.clip(rng.normal(0.2 + 0.3 * labels, 0.2), 0, 1), 2)  # many ties
    got = evaluate(pd.Series(labels), scores)
    assert got["kind"] == "binary_classification"
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(labels, scores), abs=1e-12)
    assert got["pr_auc"] == pytest.approx(skm.average_precision_score(labels, scores), abs=1e-12)
    assert got["log_loss"] == pytest.approx(skm.log_loss(labels, np.clip(scores, 1e-15, 1 - 1e-15)), rel=1e-9)
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(labels, scores >= 0.5))
    assert got["positive_rate"] == pytest.approx(labels.mean())


def test_boolean_labels_and_one_class_holdout():
    got = evaluate(pd.Series([False, True, True]), [0.1, 0.8, 0.6])
    assert got["roc_auc"] == 1.0
    one_class = evaluate(pd.Series([0, 0, 0]), [0.1, 0.2, 0.3])
    assert one_class["roc_auc"] is None and one_class["accuracy"] == 1.0


def test_regression_metrics():
    labels = pd.Series([1.0, 2.0, 3.5, 10.0])
    scores = np.array([1.5, 2.0, 3.0, 8.0])
    got = evaluate(labels, scores)
    assert got["kind"] == "regression"
    assert got["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(labels, scores)))
    assert got["mae"] == pytest.approx(skm.mean_absolute_error(labels, scores))
    assert got["r2"] == pytest.approx(skm.r2_score(labels, scores))


def test_score_count_must_match_rows():
    with pytest.raises(ValueError, match="returned 2 scores for 3 holdout rows"):
        evaluate(pd.Series([0, 1, 0]), [0.1, 0.2])
