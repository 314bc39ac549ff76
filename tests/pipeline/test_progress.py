"""Training progress: the rate of its log lines, progress.json, the learning curve, and real XGBoost and torch runs."""

import concurrent.futures
import datetime as dt
import json
import logging
import os
import pickle
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import xgboost
from sklearn.dummy import DummyRegressor

from railyard import Workflow, trainer
from railyard.pipeline.progress import DEFAULT_INTERVAL_S, INTERVAL_ENV, LIVE_POINTS, LearningCurve, ProgressReporter
from railyard.pipeline.progress_file import MAX_PROGRESS_BYTES, known_fields, read_progress
from railyard.run_layout import PROGRESS
from railyard.storage import LocalStore
from tests.conftest import REPO, example_spec, read_result, write_spec

PROGRESS_LINE = re.compile(r"^(\S+ \S+) INFO \[railyard\] train progress: (iteration|epoch) (\d+)/(\d+), (.*)$")


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class Lines(logging.Handler):
    """The railyard logger's messages (it does not propagate while a trainer has set it up)."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())

    def __enter__(self):
        logger = logging.getLogger("railyard")
        self.level, logger.level = logger.level, logging.INFO
        logger.addHandler(self)
        return self

    def __exit__(self, *exc):
        logger = logging.getLogger("railyard")
        logger.removeHandler(self)
        logger.level = self.level


def test_lines_are_the_first_then_at_most_one_per_interval_then_the_last(tmp_path):
    clock = Clock()
    reporter = ProgressReporter(LocalStore(tmp_path), interval_s=2.0, clock=clock)
    written = []
    with Lines() as lines:
        for i in range(1, 101):  # one iteration every 0.15 s: 15 s in all
            clock.now += 0.15
            reporter.report(i, 100, training=1 / i, holdout=2 / i, metric="rmse")
            written.append(json.loads((tmp_path / PROGRESS).read_text())["iteration"])
        reporter.end()
    shown = [int(re.search(r"iteration (\d+)/100", m).group(1)) for m in lines.messages]
    assert shown[0] == 1 and shown[-1] == 100
    assert len(shown) == len(set(shown))  # end() does not repeat the last line
    gaps = np.diff(shown[:-1]) * 0.15
    assert all(gap >= 2.0 - 1e-9 for gap in gaps) and all(gap < 2.0 + 0.15 + 1e-9 for gap in gaps)
    assert 7 <= len(shown) <= 2 + 15 / 2.0
    assert sorted(set(written)) == shown  # progress.json is replaced exactly when a line is logged


def test_an_early_end_shows_the_last_report(tmp_path):
    clock = Clock()
    reporter = ProgressReporter(interval_s=2.0, clock=clock)
    with Lines() as lines:
        for i in range(1, 6):  # early stopping: 5 of 500, all within 2 s
            clock.now += 0.1
            reporter.report(i, 500, holdout=0.3)
        reporter.end()
    assert [re.search(r"iteration (\d+/\d+)", m).group(1) for m in lines.messages] == ["1/500", "5/500"]
    assert "holdout loss 0.3" in lines.messages[-1]


def test_progress_json_has_the_documented_shape(tmp_path):
    clock = Clock()
    reporter = ProgressReporter(LocalStore(tmp_path), clock=clock)
    reporter.start_step()
    assert read_progress(str(tmp_path))["step"] == "train" and read_progress(str(tmp_path))["iteration"] is None
    clock.now += 4.0
    reporter.report(100, 500, training=0.4, holdout=0.45, metric="rmse")
    document = read_progress(str(tmp_path))
    assert list(document) == ["step", "iteration", "total", "unit", "elapsed_s", "remaining_s", "metric", "training",
                              "holdout", "updated_at", "points"]
    assert {k: v for k, v in document.items() if k != "updated_at"} == {
        "step": "train", "iteration": 100, "total": 500, "unit": "iteration", "elapsed_s": 4.0, "remaining_s": 16.0,
        "metric": "rmse", "training": 0.4, "holdout": 0.45,
        "points": [{"iteration": 100, "training": 0.4, "holdout": 0.45}]}  # the learning curve so far
    assert dt.datetime.fromisoformat(document["updated_at"]).tzinfo is not None


def test_progress_json_holds_the_learning_curve_so_far_thinned(tmp_path):
    clock = Clock()
    reporter = ProgressReporter(LocalStore(tmp_path), clock=clock)
    reporter.start_step()
    for iteration in range(1, 2001):
        clock.now += 0.01
        reporter.report(iteration, 2000, training=1 / iteration, holdout=1.1 / iteration, metric="logloss")
    document = read_progress(str(tmp_path))
    points = document["points"]
    assert len(points) <= LIVE_POINTS and points[0]["iteration"] == 1 and points[-1]["iteration"] == document["iteration"] > 1900
    assert [p["iteration"] for p in points] == sorted(p["iteration"] for p in points)
    hostile = {"points": [{"iteration": "x", "training": 1e400}] * 5000 + ["not a point"]}
    assert known_fields(hostile)["points"] == [{"iteration": None, "training": None, "holdout": None}] * LIVE_POINTS


def test_time_left_is_estimated_from_the_pace_after_the_first_iteration():
    clock = Clock()
    reporter = ProgressReporter(clock=clock)
    clock.now += 10.0  # a slow first round (building histograms, warming up)
    reporter.report(1, 101)
    assert reporter.document["remaining_s"] == 1000.0
    for i in range(2, 12):
        clock.now += 0.5
        reporter.report(i, 101)
    assert (reporter.document["elapsed_s"], reporter.document["remaining_s"]) == (15.0, 45.0)


def test_reading_progress_is_bounded_and_keeps_only_known_fields(tmp_path):
    assert read_progress(str(tmp_path)) is None
    (tmp_path / PROGRESS).write_text(json.dumps({"iteration": "7", "total": 10, "holdout": True, "extra": [1] * 9}))
    assert read_progress(str(tmp_path)) == {"step": None, "iteration": None, "total": 10, "unit": None, "elapsed_s": None,
                                            "remaining_s": None, "metric": None, "training": None, "holdout": None,
                                            "updated_at": None, "points": []}
    (tmp_path / PROGRESS).write_text(json.dumps({"step": "train", "pad": "x" * MAX_PROGRESS_BYTES}))
    assert read_progress(str(tmp_path)) is None
    (tmp_path / PROGRESS).write_text("{not json")
    assert read_progress(str(tmp_path)) is None


def test_a_hostile_progress_file_reads_as_nothing_and_never_hangs(tmp_path):
    progress = tmp_path / PROGRESS
    progress.write_text("[" * 50_000)  # under the size limit, too deep for the parser
    assert read_progress(str(tmp_path)) is None
    progress.write_text('{"iteration": 1' + "0" * 400 + ', "total": 1e400, "elapsed_s": NaN, "remaining_s": -Infinity}')
    assert {k: v for k, v in read_progress(str(tmp_path)).items() if v not in (None, [])} == {}
    progress.unlink()
    progress.symlink_to("/etc/passwd")
    assert read_progress(str(tmp_path)) is None
    progress.unlink()
    os.mkfifo(progress)  # a reader that waited for a writer would hold the service's thread forever
    reader = concurrent.futures.ThreadPoolExecutor(1)
    assert reader.submit(read_progress, str(tmp_path)).result(timeout=10) is None
    reader.shutdown()


@pytest.mark.parametrize("count, expected", [(500, 500), (1000, 1000), (1001, 501), (5000, 626), (123_457, 966)])
def test_the_learning_curve_keeps_at_most_1000_points_evenly_with_first_and_last(count, expected):
    curve = LearningCurve(1000)
    for i in range(1, count + 1):
        curve.add({"iteration": i, "training": None, "holdout": None})
    iterations = [p["iteration"] for p in curve.points()]
    assert len(iterations) == expected <= 1000
    assert iterations[0] == 1 and iterations[-1] == count
    steps = set(np.diff(iterations[:-1]).tolist())
    assert len(steps) == 1  # evenly spaced, but for the step to the last point
    assert iterations[-1] - iterations[-2] <= steps.pop()


def test_a_curve_sample_is_at_most_its_rows_evenly_spaced_and_the_same_each_time():
    import numpy as np

    features = pd.DataFrame({"x": range(120_000)})
    label = pd.Series(range(120_000)) * 2
    sample_x, sample_y = ProgressReporter.curve_sample(features, label)
    assert len(sample_x) == len(sample_y) == 40_000 and list(sample_x["x"][:3]) == [0, 3, 6]
    assert (sample_y.to_numpy() == sample_x["x"].to_numpy() * 2).all()  # rows stay paired with their labels
    assert ProgressReporter.curve_sample(features, label)[0].equals(sample_x)
    small = features.iloc[:500]
    assert ProgressReporter.curve_sample(small, label.iloc[:500])[0] is small  # a small set is used whole
    array_x, array_y = ProgressReporter.curve_sample(np.arange(100), np.arange(100), rows=10)
    assert list(array_x) == list(range(0, 100, 10)) and list(array_y) == list(array_x)


def test_a_new_training_loop_starts_a_new_curve():
    reporter = ProgressReporter(interval_s=0)
    for i in (1, 2, 3):
        reporter.report(i, 3, training=0.1 * i)
    for i in (1, 2):
        reporter.report(i, 2, training=0.5, metric="mse", unit="epoch")
    curve = reporter.learning_curve()
    assert (curve["unit"], curve["total"], [p["iteration"] for p in curve["points"]]) == ("epoch", 2, [1, 2])


@pytest.mark.parametrize("call, message", [
    (lambda r: r.report(0, 10), "progress.report: iteration must be a whole number of at least 1, got 0"),
    (lambda r: r.report(1.5, 10), "iteration must be a whole number of at least 1, got 1.5"),
    (lambda r: r.report(1, 10, holdout="low"), "progress.report: holdout must be a number or None, got 'low'"),
    (lambda r: r.report(1, 10, unit="round"), "progress: unit must be one of iteration, epoch, got 'round'"),
])
def test_bad_reports_are_one_line_errors(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call(ProgressReporter())


def test_the_default_interval_is_two_seconds(monkeypatch):
    monkeypatch.delenv(INTERVAL_ENV, raising=False)
    assert ProgressReporter().interval_s == DEFAULT_INTERVAL_S == 2.0
    monkeypatch.setenv(INTERVAL_ENV, "0.5")
    assert ProgressReporter().interval_s == 0.5


def test_the_xgboost_callback_reads_training_and_holdout_loss_from_the_evaluation_log():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(400, 3)), rng.normal(size=400)
    train, holdout = xgboost.DMatrix(x[:300], y[:300]), xgboost.DMatrix(x[300:], y[300:])
    reporter = ProgressReporter(interval_s=60)
    log = {}
    xgboost.train({"max_depth": 2, "eval_metric": ["mae", "rmse"]}, train, 25, evals=[(train, "train"), (holdout, "holdout")],
                  evals_result=log, verbose_eval=False, callbacks=[reporter.xgboost_callback(total=25)])
    curve = reporter.learning_curve()
    assert (curve["metric"], curve["unit"], curve["total"], len(curve["points"])) == ("rmse", "iteration", 25, 25)
    assert [p["training"] for p in curve["points"]] == pytest.approx(log["train"]["rmse"])
    assert [p["holdout"] for p in curve["points"]] == pytest.approx(log["holdout"]["rmse"])
    model = xgboost.XGBRegressor(n_estimators=3, callbacks=[reporter.xgboost_callback()])
    assert pickle.loads(pickle.dumps(model)).get_params()["callbacks"][0].reporter is None  # a saved model holds no reporter


def test_a_trainer_without_xgboost_does_not_import_it():
    code = ("import sys, railyard.trainer, workflows.mlp.workflow\n"
            "from railyard.pipeline.progress import ProgressReporter\n"
            "with ProgressReporter().train_step() as progress:\n"
            "    progress.report(1, 1, training=0.5, unit='epoch')\n"
            "print('xgboost' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.stdout.strip() == "False", run.stderr


# Workflows that check what the train step does around them.
SEEN: dict = {}
ORIGINAL_TRAINS = (xgboost.train, xgboost.training.train, xgboost.sklearn.train)


def current_trains():
    return (xgboost.train, xgboost.training.train, xgboost.sklearn.train)


class ProgressQuietModel(Workflow):
    def train(self, training_dataframe, holdout_dataframe):
        SEEN["wrapped"] = all(a is not b for a, b in zip(current_trains(), ORIGINAL_TRAINS))
        return DummyRegressor().fit(training_dataframe[self.classifier_features], training_dataframe[self.classifier_label])


class ProgressRaisingModel(Workflow):
    def train(self, training_dataframe, holdout_dataframe):
        SEEN["wrapped"] = all(a is not b for a, b in zip(current_trains(), ORIGINAL_TRAINS))
        raise RuntimeError("no model today")


class ProgressExplicitModel(Workflow):
    """Passes its own callback to xgboost.train: reported once per round, not twice."""

    def train(self, training_dataframe, holdout_dataframe):
        features = training_dataframe[["charge_amount"]]
        data = xgboost.DMatrix(features, training_dataframe[self.classifier_label])
        held = xgboost.DMatrix(holdout_dataframe[["charge_amount"]], holdout_dataframe[self.classifier_label])
        booster = xgboost.train({"max_depth": 2}, data, 40, evals=[(data, "train"), (held, "holdout")], verbose_eval=False,
                                callbacks=[self.progress.xgboost_callback()])
        return BoosterModel(booster)


class BoosterModel:
    def __init__(self, booster):
        self.booster = booster

    def predict(self, features):
        return self.booster.predict(xgboost.DMatrix(features[["charge_amount"]]))


def train_in_process(tmp_path, spec: dict) -> tuple[int, dict, str]:
    output = tmp_path / "run"
    code = trainer.main(["--spec", str(write_spec(tmp_path, spec)), "--output", str(output)])
    return code, read_result(output), (output / "trainer.log").read_text()


def fraud_spec(charges_path, workflow: str, **custom_params) -> dict:
    spec = example_spec("fraud", charges_path)
    spec["train"]["workflow_name"] = workflow
    spec["train"]["custom_params"].update(custom_params)
    return spec


def test_a_workflow_that_reports_nothing_has_no_learning_curve_and_xgboost_is_restored(tmp_path, charges_path):
    SEEN.clear()
    code, result, log = train_in_process(tmp_path, fraud_spec(charges_path, "ProgressQuietModel"))
    assert code == 0, log
    assert SEEN["wrapped"] is True
    assert current_trains() == ORIGINAL_TRAINS
    assert result["result"]["learning_curve"] is None
    assert "train progress:" not in log


def test_xgboost_is_restored_when_train_raises(tmp_path, charges_path):
    SEEN.clear()
    code, result, _ = train_in_process(tmp_path, fraud_spec(charges_path, "ProgressRaisingModel"))
    assert code == 1 and result["exception_info"]["step"] == "train"
    assert SEEN["wrapped"] is True
    assert current_trains() == ORIGINAL_TRAINS


def test_an_explicit_callback_is_not_doubled(tmp_path, charges_path):
    code, result, log = train_in_process(tmp_path, fraud_spec(charges_path, "ProgressExplicitModel"))
    assert code == 0, log
    curve = result["result"]["learning_curve"]
    assert [p["iteration"] for p in curve["points"]] == list(range(1, 41)) and curve["total"] == 40
    assert all(p["training"] is not None and p["holdout"] is not None for p in curve["points"])


def progress_lines(log: str) -> list[tuple[dt.datetime, int, int]]:
    found = []
    for line in log.splitlines():
        match = PROGRESS_LINE.match(line)
        if match:
            at = dt.datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f")
            found.append((at, int(match.group(3)), int(match.group(4))))
    return found


def test_a_500_tree_fraud_run_reports_its_progress_and_learning_curve(tmp_path, charges_path, monkeypatch):
    interval = 0.1  # short, so that even a fast run logs lines between the first and the last
    monkeypatch.setenv(INTERVAL_ENV, str(interval))
    code, result, log = train_in_process(tmp_path, fraud_spec(charges_path, "StripeFraudModel", n_estimators=500))
    assert code == 0, log
    lines = progress_lines(log)
    iterations = [i for _, i, _ in lines]
    assert iterations[0] == 1 and iterations[-1] == 500 and {t for _, _, t in lines} == {500}
    assert iterations == sorted(set(iterations))
    train_seconds = next(s["wall_seconds"] for s in result["result"]["steps"] if s["name"] == "train")
    assert len(lines) <= 2 + train_seconds / interval  # the rate limit
    gaps = [(b[0] - a[0]).total_seconds() for a, b in zip(lines, lines[1:-1])]
    assert all(gap >= interval - 0.002 for gap in gaps)  # log times are to the millisecond
    assert all(gap < 5 for gap in gaps)  # a line comes after the first iteration past the interval
    if train_seconds > 3 * interval:
        assert len(lines) >= 3

    curve = result["result"]["learning_curve"]
    assert (curve["metric"], curve["unit"], curve["total"]) == ("rmse", "iteration", 500)
    assert [p["iteration"] for p in curve["points"]] == list(range(1, 501))
    assert all(isinstance(p["training"], float) and isinstance(p["holdout"], float) for p in curve["points"])
    assert curve["points"][-1]["training"] < curve["points"][0]["training"]  # boosting fits the training set
    final = json.loads((tmp_path / "run" / PROGRESS).read_text())
    assert (final["iteration"], final["total"], final["remaining_s"]) == (500, 500, 0.0)


def test_the_torch_mlp_reports_each_epoch(tmp_path, charges_path):
    spec = example_spec("mlp", charges_path)
    spec["train"]["custom_params"].update(epochs=4)
    code, result, log = train_in_process(tmp_path, spec)
    assert code == 0, log
    curve = result["result"]["learning_curve"]
    assert (curve["metric"], curve["unit"], curve["total"]) == ("log_loss", "epoch", 4)
    assert [p["iteration"] for p in curve["points"]] == [1, 2, 3, 4]
    assert all(0 < p["training"] < 1 and 0 < p["holdout"] < 1 for p in curve["points"])
    assert re.search(r"train progress: epoch 1/4, .*training log_loss", log)
    assert re.search(r"train progress: epoch 4/4, elapsed", log)
