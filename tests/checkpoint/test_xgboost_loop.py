"""The pieces of an XGBoost loop's checkpoints, in one process: what may make a resume inexact, and a sampling
loop's booster, which counts its rounds from the resume while it trains and is a plain Booster again after."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import xgboost
from xgboost.callback import LearningRateScheduler, TrainingCallback

from railyard.checkpoint import xgboost_loop
from railyard.pipeline.xgboost_progress import reporting_xgboost


@pytest.mark.parametrize("params, callbacks, exact, why", [
    ({"subsample": 0.8}, [], True, None),
    ({"booster": "gblinear", "feature_selector": "shuffle"}, [], True, None),
    ({"subsample": 0.8}, [], False, "checkpoints.exact is false"),
    ({"booster": "gblinear", "feature_selector": "random"}, [], False, "checkpoints.exact is false"),
    ({"device": "cuda"}, [], True, "GPU"),
    ({}, [LearningRateScheduler(lambda epoch: 0.3 / (1 + epoch))], True, "LearningRateScheduler counts its rounds again"),
])
def test_what_makes_a_resume_inexact(params, callbacks, exact, why):
    found = xgboost_loop.not_exact_because(params, callbacks, None, exact)
    assert (found is None) if why is None else (why in found)


@pytest.mark.parametrize("environment, threads", [("1", 1), ("abc", None), ("4,2", None), ("inf", None), ("", None)])
def test_the_thread_count_survives_any_openmp_setting(environment, threads, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", environment)
    found = xgboost_loop.threads({})
    assert found >= 1 and (threads is None or found == threads)


def test_a_sampling_loop_leaves_a_plain_booster_and_a_callbacks_copy_pickles():
    rows = np.random.default_rng(0).normal(size=(500, 4))
    dtrain = xgboost.DMatrix(rows, label=rows[:, 0] > 0)

    class KeepsACopy(TrainingCallback):
        def after_iteration(self, model, epoch, evals_log):
            self.copy = model.copy()
            return False

    keeps = KeepsACopy()
    with reporting_xgboost(None, None, exact=True):
        booster = xgboost.train({"objective": "binary:logistic", "subsample": 0.5, "seed": 3}, dtrain, 5, callbacks=[keeps])
    assert type(booster) is xgboost.Booster and "rounds_before" not in vars(booster)
    assert pickle.loads(pickle.dumps(booster)).num_boosted_rounds() == 5
    kept = pickle.loads(pickle.dumps(keeps.copy))
    assert type(kept) is xgboost.Booster and kept.num_boosted_rounds() == 5
