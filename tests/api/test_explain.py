"""POST /explain: explanation jobs of a trained model, by its training job or its model id, on SQLite and on
PostgreSQL; their kind in status, result and lists; who may explain what; the manifests they run as; and the
migration that gave every earlier job the kind `training`."""

import datetime as dt
import json
import subprocess
import sys
import time
import uuid

import httpx
import kubernetes_validate
import pyarrow.parquet as pq
import pytest
from alembic import command
from alembic.config import Config
from fastapi.testclient import TestClient
from kubernetes.client import ApiClient
from sqlalchemy import MetaData

from railyard.api.app import create_app
from railyard.api.store.db import MIGRATIONS, make_engine
from railyard.errors import UserError
from railyard.launch.job import Binary, Explanation, JobRequest
from railyard.launch.kubernetes import KubernetesExecutor
from railyard.launch.pod_security import violations
from railyard.launch.render import render
from railyard.launch.resources import load_config
from railyard.spec import load_spec
from tests.api.conftest import ADMIN, ALICE, BOB, CI, publish, settings_for, tokens_yaml
from tests.api.service import Service
from tests.conftest import REPO, SPECS, example_spec

FINISHED = ("complete", "failed", "cancelled")
MODEL_ID = "sha256." + "A" * 52


def fraud_body(charges_path, binary: str = "dev", owner: str | None = None) -> dict:
    spec = example_spec("fraud", charges_path)
    spec["train"]["custom_params"]["n_estimators"] = 20
    if owner:
        spec["metadata"]["owner"] = owner
    return {"spec": spec, "binary": binary}


def wait_for(client, job_id: str, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get(f"/job/{job_id}/status").json()
        if status["job_state"] in FINISHED:
            return status
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} never finished: {status}")


def explain(client, headers: dict | None = None, **body):
    return client.post("/explain", json=body, headers=headers)


# --- without a trained model: bodies, lookups, states ---------------------------------------------------------

@pytest.fixture
def queued(app_factory, charges_path):
    """A service that dispatches nothing (--dev, anonymous), and a training job that stays queued."""
    client = app_factory(dispatch=False, dev=True)
    return client, client.post("/train", json=fraud_body(charges_path)).json()["job_id"]


@pytest.mark.parametrize("body, loc, words", [
    ({"data": "/d.parquet"}, ["body"], "exactly one of model_id and training_job_id"),
    ({"data": "/d.parquet", "model_id": MODEL_ID, "training_job_id": "x"}, ["body"], "exactly one of model_id and training_job_id"),
    ({"data": "/d.parquet", "model_id": "sha256.short"}, ["body", "model_id"], "expected a model id: 'sha256.' and 52 base32"),
    ({"model_id": MODEL_ID}, ["body", "data"], "Field required"),
    ({"data": "charges.parquet", "model_id": MODEL_ID}, ["body", "data"], "charges.parquet is relative"),
    ({"data": "ftp://host/d.parquet", "model_id": MODEL_ID}, ["body", "data"], "unknown scheme 'ftp'"),
    ({"data": "/data/fraud/spec.json", "model_id": MODEL_ID}, ["body", "data"], "does not explain a training spec's rows"),
    ({"data": "/d.parquet", "model_id": MODEL_ID, "rows": 0}, ["body", "rows"], "greater than or equal to 1"),
    ({"data": "/d.parquet", "model_id": MODEL_ID, "key_columns": [""]}, ["body", "key_columns", 0], "at least 1 character"),
    ({"data": "/d.parquet", "model_id": MODEL_ID, "key_columns": ["charge_id", "charge_id"]}, ["body", "key_columns"],
     "'charge_id' is named more than once"),
    ({"data": "/d.parquet", "model_id": MODEL_ID, "compute_resource": "TPU"}, ["body", "compute_resource"], "'CPU', 'GPU' or 'HIGH_MEMORY'"),
    ({"data": "/d.parquet", "model_id": MODEL_ID, "binary": "/bin/sh"}, ["body", "binary"], "Extra inputs are not permitted"),
])
def test_bad_bodies_are_422_naming_the_field(queued, body, loc, words):
    client, _ = queued
    response = explain(client, **body)
    assert response.status_code == 422, response.text
    [problem] = response.json()["detail"]
    assert problem["loc"] == loc and words in problem["msg"], problem


def test_unknown_models_and_jobs_are_404_and_an_unfinished_training_job_is_409(queued, charges_path):
    client, job_id = queued
    unknown = explain(client, model_id=MODEL_ID, data=str(charges_path))
    assert unknown.status_code == 404 and unknown.json() == {"detail": f"no model {MODEL_ID}"}
    assert explain(client, training_job_id="no-such-job", data=str(charges_path)).json() == {"detail": "no job no-such-job"}
    running = explain(client, training_job_id=job_id, data=str(charges_path))
    assert running.status_code == 409
    assert running.json()["detail"] == f"job {job_id} is queued; only a complete training job has a model to explain"
    client.post(f"/job/{job_id}/cancel")
    assert "is cancelled" in explain(client, training_job_id=job_id, data=str(charges_path)).json()["detail"]
    assert [j["kind"] for j in client.get("/jobs").json()["jobs"]] == ["training"]


@pytest.fixture
def tokens_with_carol(tmp_path, charges_path):
    """The usual principals, and carol: she reads the same data as alice but is not in alice's team."""
    path = tmp_path / "tokens-carol.yaml"
    path.write_text(tokens_yaml(charges_path.parent) +
                    f"carol-token-0123456789: {{owner: carol, teams: [risk], data_prefixes: [{str(charges_path.parent)!r}]}}\n")
    return str(path)


CAROL = {"Authorization": "Bearer carol-token-0123456789"}


def test_another_team_gets_404_and_data_outside_the_callers_prefixes_is_403(app_factory, charges_path, tokens_with_carol, small_pex):
    client = app_factory(dispatch=False, auth_tokens=tokens_with_carol)
    publish(client, small_pex, CI)
    job_id = client.post("/train", json=fraud_body(charges_path, "small_train", owner="fraud-team"), headers=ALICE).json()["job_id"]
    assert explain(client, training_job_id=job_id, data=str(charges_path)).status_code == 401
    for who in (CAROL, BOB):
        hidden = explain(client, who, training_job_id=job_id, data=str(charges_path))
        assert hidden.status_code == 404 and hidden.json() == {"detail": f"no job {job_id}"}
    outside = explain(client, ALICE, training_job_id=job_id, data="/etc/passwd.parquet")
    assert outside.status_code == 403
    assert outside.json()["detail"].startswith("data: /etc/passwd.parquet is outside your data prefixes")
    assert explain(client, ALICE, training_job_id=job_id, data="s3://ml-data/../fraud/x.parquet").status_code == 403
    assert explain(client, ALICE, training_job_id=job_id, data=str(charges_path)).status_code == 409  # hers, but queued
    seen = explain(client, ADMIN, training_job_id=job_id, data=str(charges_path))  # admins see every job, read no data
    assert seen.status_code == 403 and "(allowed: none)" in seen.json()["detail"]
    assert [j["kind"] for j in client.get("/jobs", headers=ADMIN).json()["jobs"]] == ["training"]


# --- the explanation runs: by training job and by model id --------------------------------------------------

@pytest.mark.slow
def test_explain_a_training_job_by_its_id_and_by_its_model_id(app_factory, charges_path):
    client = app_factory(dev=True)
    training_id = client.post("/train", json=fraud_body(charges_path)).json()["job_id"]
    trained = wait_for(client, training_id)
    assert trained["job_state"] == "complete", client.get(f"/job/{training_id}/logs").text
    model_id = client.get(f"/job/{training_id}/result").json()["result"]["model_id"]

    body = {"training_job_id": training_id, "data": str(charges_path), "rows": 200, "key_columns": ["created_at"]}
    first = client.post("/explain", json=body, headers={"Idempotency-Key": "explain-1"})
    assert first.status_code == 202
    assert first.json() == {"job_id": first.json()["job_id"], "model_id": model_id, "training_job_id": training_id}
    by_job = first.json()["job_id"]
    again = client.post("/explain", json=body, headers={"Idempotency-Key": "explain-1"})
    assert again.status_code == 202 and again.json() == first.json()
    changed = client.post("/explain", json=body | {"rows": 100}, headers={"Idempotency-Key": "explain-1"})
    assert changed.status_code == 409 and "different request body" in changed.json()["detail"]
    by_model = explain(client, model_id=model_id, data=str(charges_path), rows=50)
    assert by_model.status_code == 202 and by_model.json()["training_job_id"] == training_id
    by_model = by_model.json()["job_id"]

    for job_id, rows in ((by_job, 200), (by_model, 50)):
        status = wait_for(client, job_id)
        assert status["job_state"] == "complete", client.get(f"/job/{job_id}/logs").text
        assert status["kind"] == "explanation" and status["explains"]["model_id"] == model_id
        assert status["explains"]["training_job_id"] == training_id and status["explains"]["data"] == str(charges_path)
        assert [t["job_state"] for t in status["transitions"]] == ["queued", "running", "complete"]
        assert (status["owner"], status["model_name"], status["binary_sha256"], status["git_commit"]) == \
            (trained["owner"], trained["model_name"], trained["binary_sha256"], trained["git_commit"])
        result = client.get(f"/job/{job_id}/result").json()["result"]
        assert result["kind"] == "explanation" and result["model_id"] == model_id and result["rows"] == rows
        explanations = pq.read_table(result["explanations_path"])
        assert explanations.num_rows == rows
        assert json.loads(open(result["importance_path"]).read())["model_id"] == model_id
    assert "created_at" in pq.read_table(client.get(f"/job/{by_job}/result").json()["result"]["explanations_path"]).column_names

    listed = client.get("/jobs").json()["jobs"]
    assert [(j["job_id"], j["kind"]) for j in listed] == [(by_model, "explanation"), (by_job, "explanation"), (training_id, "training")]
    assert [j["job_id"] for j in client.get("/jobs", params={"kind": "explanation"}).json()["jobs"]] == [by_model, by_job]
    assert client.get(f"/job/{training_id}/status").json()["kind"] == "training"
    page = client.get("/").text
    assert page.count(">explanation model</td>") == 2 and page.count(">training</td>") == 1
    assert client.post(f"/job/{by_job}/ship").status_code == 409
    nested = explain(client, training_job_id=by_job, data=str(charges_path))
    assert nested.status_code == 422 and nested.json()["detail"][0]["loc"] == ["body", "training_job_id"]
    assert client.get(f"/ui/job/{by_job}").status_code == 200  # the list links every job to its page


# --- the published binary, tokens, and the command line -----------------------------------------------------

@pytest.mark.slow
def test_a_team_explains_its_model_with_the_published_binary_and_others_cannot(tmp_path, charges_path, fraud_pex):
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(tokens_yaml(charges_path.parent))
    service = Service(tmp_path / "svc", args=("--auth-tokens", str(tokens))).start()

    def railyard(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "railyard.cli", *args], cwd=REPO, capture_output=True, text=True,
                              timeout=600, env={**service.env, "RAILYARD_URL": service.url, "RAILYARD_TOKEN": "alice-token-0123456789"})

    try:
        binary = httpx.post(f"{service.url}/binaries", content=fraud_pex.read_bytes(), headers=CI, timeout=120).json()
        body = fraud_body(charges_path, binary["name"], owner="fraud-team")
        training_id = httpx.post(f"{service.url}/train", json=body, headers=ALICE).json()["job_id"]
        assert service.wait_for(training_id, FINISHED, headers=ALICE)["job_state"] == "complete"
        model_id = httpx.get(f"{service.url}/job/{training_id}/result", headers=ALICE).json()["result"]["model_id"]

        for named in ({"training_job_id": training_id}, {"model_id": model_id}):
            hidden = httpx.post(f"{service.url}/explain", json=named | {"data": str(charges_path)}, headers=BOB)
            assert hidden.status_code == 404 and hidden.json()["detail"] in (f"no job {training_id}", f"no model {model_id}")
            outside = httpx.post(f"{service.url}/explain", json=named | {"data": "s3://other-team/rows.parquet"}, headers=ALICE)
            assert outside.status_code == 403

        submitted = railyard("submit-explain", "--model", training_id, "--data", str(charges_path), "--rows", "100",
                             "--key", "created_at", "--wait")
        assert submitted.returncode == 0, submitted.stderr + (service.workdir / "service.log").read_text()
        job_id, *states = submitted.stdout.splitlines()
        assert states == [f"{job_id} queued", f"{job_id} running", f"{job_id} complete"]
        status = httpx.get(f"{service.url}/job/{job_id}/status", headers=ALICE).json()
        assert status["kind"] == "explanation" and status["binary_sha256"] == binary["sha256"] and status["owner"] == "fraud-team"
        assert httpx.get(f"{service.url}/job/{job_id}/status", headers=BOB).status_code == 404
        shown = railyard("result", job_id)
        assert f"explains model {model_id}: 100 rows" in shown.stdout and "explanations.parquet" in shown.stdout
        listing = railyard("jobs").stdout.splitlines()
        assert any(job_id in line and "explanation" in line for line in listing)
        assert any(training_id in line and "training" in line for line in listing)
    finally:
        service.stop()


# --- manifests ------------------------------------------------------------------------------------------------

HOSTILE_KEY = "id\"; rm -rf / #\n- injected"


def test_an_explanation_job_renders_valid_restricted_manifests_that_run_the_explanation():
    config = load_config()
    explanation = Explanation(model=f"s3://railyard-artifacts/runs/t-1/model/{MODEL_ID}", data="s3://ml-data/fraud/rows/",
                              rows=500, key_columns=("charge_id", HOSTILE_KEY))
    binary = Binary(path="fraud_train.pex", sha256="a" * 64, target="//workflows:fraud_train")
    job = JobRequest("e-1", load_spec(SPECS["fraud"]), binary, "s3://railyard-artifacts/runs/e-1", explanation=explanation)
    policy, configmap, manifest = render(job, config)
    for rendered in (policy, configmap, manifest):
        kubernetes_validate.validate(rendered, "1.31.0", strict=True)
        assert violations(rendered) == []
    trainer = manifest["spec"]["template"]["spec"]["containers"][0]
    assert trainer["command"] == ["/bin/sh", "-c"] and 'exec python3.11 /work/trainer.pex "$@"' in trainer["args"][0]
    assert trainer["args"][1:] == ["trainer", "--explain", f"--model={explanation.model}", "--data=s3://ml-data/fraud/rows/",
                                   "--rows=500", "--key=charge_id", f"--key={HOSTILE_KEY}"]
    assert manifest["metadata"]["labels"]["railyard.io/kind"] == "explanation"
    assert manifest["metadata"]["annotations"]["railyard.io/explains"] == explanation.model
    training = render(JobRequest("t-1", load_spec(SPECS["fraud"]), binary, "s3://railyard-artifacts/runs/t-1"), config)[2]
    assert training["spec"]["template"]["spec"]["containers"][0]["args"][1:] == ["trainer", "--spec", "/etc/railyard/spec.json"]
    assert training["metadata"]["labels"]["railyard.io/kind"] == "training"


def test_a_kubernetes_explanation_must_read_its_model_and_rows_from_the_artifact_store(tmp_path):
    executor = KubernetesExecutor(load_config(), api=ApiClient(), use_cache=False)  # refused before any request is made
    binary = Binary(path="fraud_train.pex", sha256="a" * 64)
    for model, data, refused in ((str(tmp_path / "model" / MODEL_ID), "s3://ml-data/rows/", "model"),
                                 (f"s3://railyard-artifacts/runs/t-1/model/{MODEL_ID}", str(tmp_path / "rows.parquet"), "data")):
        job = JobRequest("e-1", load_spec(SPECS["fraud"]), binary, "s3://railyard-artifacts/runs/e-1",
                         explanation=Explanation(model=model, data=data))
        with pytest.raises(UserError, match=f"^{refused}: .* is not an s3:// URI; a Kubernetes job cannot read local files"):
            executor.submit(job)


# --- the migration --------------------------------------------------------------------------------------------

def test_upgrading_a_0002_database_keeps_every_earlier_job_as_training(tmp_path, db_url):
    engine = make_engine(db_url)
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")
    job_id, at = str(uuid.uuid4()), dt.datetime(2019, 3, 21, 0, 45, tzinfo=dt.timezone.utc)
    with engine.begin() as connection:
        tables = MetaData()
        tables.reflect(connection, only=["jobs", "transitions"])
        connection.execute(tables.tables["jobs"].insert().values(
            id=job_id, created_at=at, updated_at=at, finished_at=at, state="complete", owner="alice", project="p", trainer="t",
            model_name="fraud prediction model", workflow="StripeFraudModel", compute_resource="CPU",
            spec=json.loads(SPECS["fraud"].read_text()), spec_hash="h", binary="dev", workflow_modules=[],
            output=str(tmp_path / "old"), model_id=MODEL_ID))
        connection.execute(tables.tables["transitions"].insert().values(job_id=job_id, state="complete", at=at))
    engine.dispose()

    with TestClient(create_app(settings_for(tmp_path, db_url, dispatch=False, dev=True)), base_url="http://127.0.0.1") as client:
        [listed] = client.get("/jobs").json()["jobs"]
        assert (listed["job_id"], listed["kind"], listed["job_state"]) == (job_id, "training", "complete")
        status = client.get(f"/job/{job_id}/status").json()
        assert status["kind"] == "training" and status["explains"] is None
        assert client.get("/jobs", params={"kind": "explanation"}).json()["jobs"] == []
        queued = explain(client, model_id=MODEL_ID, data=str(tmp_path / "rows.parquet"))
        assert queued.status_code == 202 and queued.json()["training_job_id"] == job_id  # found by its model id
