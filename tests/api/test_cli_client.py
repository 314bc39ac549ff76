"""The CI flow on the embedded defaults: `railyard serve --auth-tokens FILE`, `railyard publish` of the Bazel
target with CI's token, then a team member's `railyard submit --binary NAME --wait`, `result`, `jobs`, `logs`, `ship`,
`replay --wait`."""

import json
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
        shipped = json.loads(railyard(service, "ship", job_id, "--json").stdout)
        assert shipped["shipped"] is True and shipped["shipped_by"] == "alice"

        replayed = railyard(service, "replay", job_id, "--wait")  # the published binary and the spec, run again
        assert replayed.returncode == 0, replayed.stderr
        replay_id, *lines = replayed.stdout.splitlines()
        assert lines[-1] == f"reproduced: same model id {as_json['result']['model_id']}"
        assert json.loads(railyard(service, "status", replay_id, "--json").stdout)["replays_job_id"] == job_id

        bad = railyard(service, "status", "no-such-job")
        assert bad.returncode == 1 and bad.stderr.strip() == "railyard status: 404: no job no-such-job"
    finally:
        service.stop()
