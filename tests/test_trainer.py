"""The trainer command: exit codes, outputs, --workflow-module, and runs that die part way."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from railyard import trainer
from tests.conftest import REPO, example_spec, read_result, run_trainer, write_spec

@pytest.fixture
def outside_module():
    folder = REPO / "tests" / "outside"
    return {"PYTHONPATH": f"{folder}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}


def outside_spec(charges_path, workflow: str) -> dict:
    spec = example_spec("fraud", charges_path)
    spec["train"].update(workflow_name=workflow, custom_params={"max_depth": 4})
    return spec


@pytest.mark.slow
def test_workflow_from_outside_the_repo(tmp_path, charges_path, outside_module):
    output = tmp_path / "run"
    spec = write_spec(tmp_path, outside_spec(charges_path, "OutsideTreeModel"))
    run = run_trainer("--spec", spec, "--output", output, "--workflow-module", "team_models", env=outside_module)
    assert run.returncode == 0, run.stderr
    result = read_result(output)
    assert result["result"]["workflow"] == "team_models:OutsideTreeModel"
    assert result["result"]["metrics"]["roc_auc"] > 0.6
    check = subprocess.run(
        [sys.executable, "-c", f"import railyard; m = railyard.load_model({str(output)!r}, expected_id={result['result']['model_id']!r}); "
                               "print(m.manifest['scoring'])"],
        env={**os.environ, **outside_module}, capture_output=True, text=True, cwd=REPO,
    )
    assert check.stdout.strip() == "workflow", check.stderr


def test_unknown_workflow_module(tmp_path, charges_path):
    run = run_trainer("--spec", write_spec(tmp_path, outside_spec(charges_path, "X")), "--output", tmp_path / "o",
                      "--workflow-module", "no_such_module_here")
    assert run.returncode == 2
    assert "--workflow-module no_such_module_here: cannot import it" in run.stderr


@pytest.mark.slow
def test_training_failure_exits_1_with_exception_info(tmp_path, charges_path, outside_module):
    output = tmp_path / "run"
    spec = write_spec(tmp_path, outside_spec(charges_path, "ExplodingModel"))
    run = run_trainer("--spec", spec, "--output", output, "--workflow-module", "team_models", env=outside_module)
    assert run.returncode == 1
    assert "ExplodingModel.train failed: ValueError: learning rate must be positive" in run.stderr
    info = read_result(output)["exception_info"]
    assert info["type"] == "TrainingError" and info["step"] == "train"
    assert "ValueError" in info["traceback"]
    assert not (output / "model").exists()


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killed_run_leaves_no_complete_looking_output(tmp_path, charges_path, outside_module, sig):
    output, marker = tmp_path / "run", tmp_path / "marker"
    spec = write_spec(tmp_path, outside_spec(charges_path, "SleepyModel"))
    process = subprocess.Popen(
        [sys.executable, "-m", "railyard.trainer", "--spec", str(spec), "--output", str(output), "--workflow-module", "team_models"],
        cwd=REPO, env={**os.environ, **outside_module, "RAILYARD_TEST_MARKER": str(marker)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marker.exists(), "the workflow never started training"
    process.send_signal(sig)
    returncode = process.wait(timeout=30)
    result = read_result(output)
    state = result["status"]["transition"]["job_state"]
    if sig == signal.SIGKILL:
        assert returncode == -signal.SIGKILL and state == "running"
    else:
        assert returncode == 143 and state == "failed"
        assert result["exception_info"]["message"] == "terminated by SIGTERM"
    assert not (output / "model").exists() and not (output / "scores.tsv").exists()
    assert not [p for p in output.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.slow
def test_default_output_and_bazel_working_directory(tmp_path, charges_path):
    spec = example_spec("fraud", "data.parquet")
    spec["train"]["custom_params"]["n_estimators"] = 10
    (tmp_path / "data.parquet").symlink_to(charges_path)
    write_spec(tmp_path, spec)
    run = run_trainer("--spec", "spec.json", "--job-id", "abc", env={"BUILD_WORKING_DIRECTORY": str(tmp_path), "RAILYARD_ARTIFACTS": ""})
    assert run.returncode == 0, run.stderr
    result = read_result(tmp_path / "railyard-data" / "runs" / "abc")
    assert result["status"]["transition"]["job_state"] == "complete"
    assert "[railyard] complete: model sha256." in run.stderr
    assert "roc_auc" in run.stderr


def test_build_info_without_a_stamp():
    run = run_trainer("--build-info")
    info = json.loads(run.stdout)
    assert info["source"] in {"checkout", "unstamped"}
    if info["source"] == "unstamped":
        assert info["git_commit"] == "unknown"
    else:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
        assert info["git_commit"] == head


def planned(capsys, spec_path, *more: str) -> tuple[int, dict]:
    """Run `--plan`; stdout must be exactly one line of JSON."""
    code = trainer.main(["--plan", "--spec", str(spec_path), *more])
    out = capsys.readouterr().out
    assert out.endswith("\n") and out.count("\n") == 1, out
    return code, json.loads(out)


def test_plan_prints_the_row_counts_and_writes_nothing(tmp_path, charges_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = write_spec(tmp_path, example_spec("fraud", charges_path))
    code, report = planned(capsys, spec)
    assert code == 0
    assert list(report) == ["rows_in", "rows_after_filters", "training_rows", "holdout_rows", "compute_resource"]
    assert report["rows_in"] == 20_000 > report["rows_after_filters"]
    assert report["training_rows"] + report["holdout_rows"] == report["rows_after_filters"]
    assert report["training_rows"] > 0 and report["holdout_rows"] > 0
    assert report["compute_resource"] == "CPU"
    assert [p.name for p in tmp_path.iterdir()] == ["spec.json"]


@pytest.mark.parametrize(
    "overrides, kind, message",
    [
        ({"compute_resource": "TPU"}, "SpecError", "compute_resource: expected one of 'CPU', 'GPU', 'HIGH_MEMORY'; got 'TPU'"),
        ({"min_training_examples": 10**9}, "DataError", "min_training_examples: There should be at least 1000000000 examples, got "),
    ],
)
def test_plan_of_a_bad_spec_or_data_exits_2_with_the_error(tmp_path, charges_path, capsys, overrides, kind, message):
    code, report = planned(capsys, write_spec(tmp_path, example_spec("fraud", charges_path, **overrides)))
    assert code == 2
    assert report["type"] == kind and report["error"].startswith(message)
    assert list(report) == ["error", "type"]


def test_plan_of_a_workflow_module_that_cannot_be_imported_exits_2(tmp_path, charges_path, capsys):
    code, report = planned(capsys, write_spec(tmp_path, example_spec("fraud", charges_path)), "--workflow-module", "no_such_module_here")
    assert (code, report) == (2, {"error": "--workflow-module no_such_module_here: cannot import it: No module named 'no_such_module_here'",
                                  "type": "WorkflowNotFound"})


def test_plan_of_an_unknown_workflow_exits_2_as_the_run_would(tmp_path, charges_path, capsys):
    spec = write_spec(tmp_path, outside_spec(charges_path, "NoSuchModel"))
    code, report = planned(capsys, spec)
    assert code == 2 and report["type"] == "WorkflowNotFound"
    unknown = "train.workflow_name: no workflow class named 'NoSuchModel' in the workflows package or the --workflow-module modules;"
    assert report["error"].startswith(unknown)
    run = run_trainer("--spec", spec, "--output", tmp_path / "run")
    assert run.returncode == 2
    assert read_result(tmp_path / "run")["exception_info"]["message"].startswith(unknown)  # the workflows imported so far differ


def test_plan_finds_a_workflow_in_a_workflow_module(tmp_path, charges_path, outside_module):
    spec = write_spec(tmp_path, outside_spec(charges_path, "OutsideTreeModel"))
    run = run_trainer("--plan", "--spec", spec, "--workflow-module", "team_models", env=outside_module)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["rows_in"] == 20_000
    assert run_trainer("--plan", "--spec", spec, env=outside_module).returncode == 2


def test_plan_that_crashes_exits_1_with_the_error(tmp_path, charges_path, capsys, monkeypatch):
    def broken(spec, workflow_cls):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(trainer, "plan", broken)
    code, report = planned(capsys, write_spec(tmp_path, example_spec("fraud", charges_path)))
    assert (code, report) == (1, {"error": "disk on fire", "type": "RuntimeError"})


def test_plan_checks_the_features_against_the_workflow_and_the_label_values(tmp_path, charges_path, capsys):
    spec = example_spec("fraud", charges_path)
    spec["train"]["classifier_features"] = []
    code, report = planned(capsys, write_spec(tmp_path, spec))
    assert code == 2 and report["type"] == "SpecError"
    assert report["error"].startswith("train.classifier_features: workflow StripeFraudModel requires at least one feature;")

    spec = example_spec("fraud", charges_path)  # filtered to US and CA, the country is a two-valued string label
    spec["train"]["label"] = "charge_country"
    code, report = planned(capsys, write_spec(tmp_path, spec))
    assert code == 2 and report["type"] == "DataError"
    assert report["error"].startswith("train.label: column 'charge_country' is a string label with two values ('CA', 'US'); set train.positive_label")
    spec["train"]["positive_label"] = "CA"
    code, report = planned(capsys, write_spec(tmp_path, spec))
    assert code == 0 and report["training_rows"] > 0
