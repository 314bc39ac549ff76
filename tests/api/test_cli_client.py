"""The CI flow on the embedded defaults: `railyard serve --auth-tokens FILE`, `railyard publish` of the Bazel
target with CI's token, then a team member's `railyard submit --binary NAME --wait`, `result`, `jobs`, `logs`, `ship`,
`replay --wait`."""

import json
import os
import subprocess
import sys

import pytest

from tests.api.conftest import tokens_yaml
from tests.api.service import Service
from tests.conftest import REPO, example_spec, write_spec

pytestmark = pytest.mark.slow


ALICE_TOKEN, CI_TOKEN = "alice-token-0123456789", "ci-token-0123456789abcd"


def railyard(service: Service, *args: str, token: str = ALICE_TOKEN) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "railyard.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=900, env={**service.env, "RAILYARD_URL": service.url, "RAILYARD_TOKEN": token})


def test_publish_with_ci_token_then_submit_wait_then_result(tmp_path, charges_path):
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(tokens_yaml(charges_path.parent))
    service = Service(tmp_path / "svc", args=("--auth-tokens", str(tokens))).start()
    try:
        refused = railyard(service, "publish", "//workflows:fraud_train")
        assert refused.returncode == 1 and "alice may not publish" in refused.stderr
        published = railyard(service, "publish", "//workflows:fraud_train", "--json", token=CI_TOKEN)
        assert published.returncode == 0, published.stderr
        binary = json.loads(published.stdout)
        assert binary["name"] == "fraud_train" and binary["ref"] == f"fraud_train@sha256:{binary['sha256']}"
        assert railyard(service, "publish", "//workflows:fraud_train", token=CI_TOKEN).stdout.strip() == binary["ref"]

        spec = example_spec("fraud", charges_path)
        spec["metadata"]["owner"] = "fraud-team"
        spec["train"]["custom_params"]["n_estimators"] = 40
        submitted = railyard(service, "submit", str(write_spec(tmp_path, spec)), "--binary", "fraud_train", "--wait")
        assert submitted.returncode == 0, submitted.stderr + service.workdir.joinpath("service.log").read_text()
        job_id, *states = submitted.stdout.splitlines()
        assert states == [f"{job_id} queued", f"{job_id} running", f"{job_id} complete"]

        result = railyard(service, "result", job_id)
        assert result.returncode == 0
        assert f"{job_id} complete" in result.stdout and "roc_auc" in result.stdout and "model sha256." in result.stdout
        as_json = json.loads(railyard(service, "result", job_id, "--json").stdout)
        assert as_json["result"]["metrics"]["roc_auc"] > 0.65
        assert as_json["status"]["binary_sha256"] == binary["sha256"] and as_json["status"]["git_commit"] == binary["git_commit"]

        listing = railyard(service, "jobs", "--state", "complete")
        assert job_id in listing.stdout and "fraud prediction model" in listing.stdout
        assert "[railyard] complete" in railyard(service, "logs", job_id).stdout
        assert "  not shipped" in railyard(service, "status", job_id).stdout.splitlines()
        shipped = json.loads(railyard(service, "ship", job_id, "--json").stdout)
        assert shipped["shipped"] is True and shipped["shipped_by"] == "alice"
        assert f"  shipped by alice at {shipped['shipped_at']}" in railyard(service, "status", job_id).stdout.splitlines()
        header, row = railyard(service, "models").stdout.splitlines()
        assert header.split()[:3] == ["SHIPPED", "BY", "OWNER"] and row.endswith(job_id) and " alice " in row
        [listed] = json.loads(railyard(service, "models", "--json").stdout)["jobs"]
        assert listed["model_id"] == as_json["result"]["model_id"]

        scored = railyard(service, "predict", "--model", job_id, "--data", str(charges_path), "--output", str(tmp_path / "s.parquet"))
        assert scored.returncode == 0, scored.stderr
        assert f"with {as_json['result']['model_id']} ->" in scored.stdout
        other_id = "sha256." + "A" * 52
        mismatch = railyard(service, "predict", "--model", job_id, "--model-id", other_id, "--data", str(charges_path),
                            "--output", str(tmp_path / "m.parquet"))
        assert mismatch.returncode == 2 and f"--model-id {other_id}: job {job_id} trained model sha256." in mismatch.stderr
        unknown = railyard(service, "predict", "--model", "no-such-job", "--data", str(charges_path), "--output", str(tmp_path / "x"))
        assert unknown.returncode == 2
        assert unknown.stderr.startswith("railyard predict: --model no-such-job: not a model id (sha256.…), an artifact path or a job")

        reader_gone, writer = os.pipe()
        os.close(reader_gone)  # `railyard status ID | head -0`
        piped = subprocess.run([sys.executable, "-m", "railyard.cli", "status", job_id], cwd=REPO, stdout=writer, stderr=subprocess.PIPE,
                               text=True, timeout=60, env={**service.env, "RAILYARD_URL": service.url, "RAILYARD_TOKEN": ALICE_TOKEN})
        os.close(writer)
        assert (piped.returncode, piped.stderr) == (141, "")

        replayed = railyard(service, "replay", job_id, "--wait")  # the published binary and the spec, run again
        assert replayed.returncode == 0, replayed.stderr
        replay_id, *lines = replayed.stdout.splitlines()
        assert lines[-1] == f"reproduced: same model id {as_json['result']['model_id']}"
        assert json.loads(railyard(service, "status", replay_id, "--json").stdout)["replays_job_id"] == job_id

        spec["train"]["custom_params"]["n_estimators"] = 20  # a third run, queued: what tells the runs apart
        third = railyard(service, "submit", str(write_spec(tmp_path, spec)), "--binary", "fraud_train").stdout.split()[0]
        header, *rows = railyard(service, "jobs").stdout.splitlines()
        assert header.split() == ["CREATED", "STATE", "KIND", "OWNER", "MODEL", "METRIC", "n_estimators", "REASON", "JOB"]
        by_job = {row.split()[-1]: row for row in rows}
        roc_auc = as_json["result"]["metrics"]["roc_auc"]
        assert f" roc_auc {roc_auc:.4f} " in by_job[job_id] and by_job[job_id].split()[-2] == "40"
        assert by_job[third].split()[-2] == "20"
        listed = {j["job_id"]: j for j in json.loads(railyard(service, "jobs", "--json").stdout)["jobs"]}
        assert listed[job_id]["metrics"]["roc_auc"] == roc_auc and listed[job_id]["metrics"]["kind"] == "binary_classification"
        assert listed[third]["custom_params"]["n_estimators"] == 20

        bad = railyard(service, "status", "no-such-job")
        assert bad.returncode == 1 and bad.stderr.strip() == "railyard status: 404: no job no-such-job"
    finally:
        service.stop()


def test_submit_refuses_each_mistake_before_anything_is_queued(tmp_path, charges_path):
    service = Service(tmp_path / "svc").start()
    wrong_column = example_spec("fraud", charges_path)
    wrong_column["train"]["label"] = "defaulted"
    missing_file = example_spec("fraud", tmp_path / "no-such.parquet")
    empty_range = example_spec("fraud", charges_path)
    empty_range["holdout_sampling"]["date_range_sampling"].update(start_date="2030-01-01", end_date="2031-01-01")
    expected = {"wrong.json": (wrong_column, "train.label: column 'defaulted' is not in any data.features[].names"),
                "missing.json": (missing_file, f"data.features[0].path: {tmp_path / 'no-such.parquet'} does not exist"),
                "empty.json": (empty_range, "holdout_sampling: the holdout set is empty (created_at in [2030-01-01, 2031-01-01); "
                                            "the data's created_at runs 2018-01-01 .. 2018-12-31); nothing to evaluate on")}
    try:
        for name, (spec, message) in expected.items():
            for command in ("submit", "validate"):
                refused = railyard(service, command, str(write_spec(tmp_path, spec, name)), "--binary", "dev", token="")
                assert refused.returncode == 1 and refused.stdout == ""
                assert refused.stderr.splitlines() == [f"railyard {command}: 422: {message}"]
        assert json.loads(railyard(service, "jobs", "--json", token="").stdout)["jobs"] == []

        good = write_spec(tmp_path, example_spec("fraud", charges_path))
        checked = railyard(service, "validate", str(good), "--binary", "dev", token="")
        assert checked.returncode == 0, checked.stderr
        assert checked.stdout.startswith("checked against the data: 20,000 rows, ")
        submitted = railyard(service, "submit", str(good), "--binary", "dev", token="")
        assert submitted.returncode == 0 and submitted.stderr.startswith("checked against the data: 20,000 rows")
        [job] = json.loads(railyard(service, "jobs", "--json", token="").stdout)["jobs"]
        assert job["job_id"] == submitted.stdout.strip()
    finally:
        service.stop()
