"""Every endpoint, on SQLite and on PostgreSQL, with dispatch off: what a client sees."""

import json

import pytest
import yaml

from railyard.launch.resources import DEFAULT_CONFIG
from tests.api.conftest import ADMIN, ALICE, BOB, CI, publish
from tests.conftest import example_spec


def body(charges_path, **spec_overrides) -> dict:
    return {"spec": example_spec("fraud", charges_path, **spec_overrides), "binary": "dev"}


@pytest.fixture
def client(app_factory):
    return app_factory(dispatch=False, dev=True)


def test_train_returns_202_and_a_job_id_and_status_tracks_it(client, charges_path):
    response = client.post("/train", json=body(charges_path))
    assert response.status_code == 202
    job_id = response.json()["job_id"]
    status = client.get(f"/job/{job_id}/status").json()
    assert status["job_id"] == job_id and status["job_state"] == "queued"
    assert status["transition"]["job_state"] == "queued"
    assert status["owner"] == "machine-learning-infrastructure"
    assert status["model_name"] == "fraud prediction model" and status["workflow"] == "StripeFraudModel"
    result = client.get(f"/job/{job_id}/result").json()
    assert result["result"] is None and result["exception_info"] is None


def test_invalid_spec_is_422_with_paths_and_allowed_values(client, charges_path):
    response = client.post("/train", json=body(charges_path, compute_resource="TPU"))
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert problem["loc"] == ["body", "spec", "compute_resource"]
    assert problem["msg"] == "expected one of 'CPU', 'GPU', 'HIGH_MEMORY'; got 'TPU'"
    raw = body(charges_path)
    raw["spec"]["filters"][0]["predicate"] = "IsOneOf"
    [problem] = client.post("/train", json=raw).json()["detail"]
    assert problem["loc"] == ["body", "spec", "filters", 0, "predicate"]
    [problem] = client.post("/train", json=body(charges_path, compute_resource="GPU", workers=2, allow_cpu_fallback=True)).json()["detail"]
    assert problem["msg"].startswith("allow_cpu_fallback: applies to one worker only")  # a check across fields names its own


def test_dry_run_and_validate_count_rows_without_queueing(client, charges_path):
    dry = client.post("/train?dry_run=true", json=body(charges_path))
    assert dry.status_code == 200, dry.text
    counts = dry.json()
    assert counts["rows_in"] == 20_000
    assert counts["training_rows"] + counts["holdout_rows"] == counts["rows_after_filters"] < 20_000
    assert counts["compute_resource"] == "CPU"
    assert client.post("/validate", json=body(charges_path)).json() == counts
    assert client.get("/jobs").json()["jobs"] == []
    too_few = client.post("/validate", json=body(charges_path, min_training_examples=10**7))
    assert too_few.status_code == 422
    assert "There should be at least 10000000 examples, got" in too_few.json()["detail"][0]["msg"]


def test_idempotency_key(client, charges_path):
    first = client.post("/train", json=body(charges_path), headers={"Idempotency-Key": "abc-1"})
    again = client.post("/train", json=body(charges_path), headers={"Idempotency-Key": "abc-1"})
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json()
    changed = body(charges_path)
    changed["spec"]["train"]["custom_params"]["max_depth"] = 3
    conflict = client.post("/train", json=changed, headers={"Idempotency-Key": "abc-1"})
    assert conflict.status_code == 409
    assert "different request body" in conflict.json()["detail"]
    assert len(client.get("/jobs").json()["jobs"]) == 1
    other = client.post("/train", json=body(charges_path), headers={"Idempotency-Key": "abc-2"})
    assert other.json()["job_id"] != first.json()["job_id"]


def test_jobs_filters_newest_first_and_cursor_pages(client, charges_path):
    ids = []
    for i in range(5):
        raw = body(charges_path)
        raw["spec"]["metadata"]["model_name"] = f"model-{i % 2}"
        ids.append(client.post("/train", json=raw).json()["job_id"])
    page = client.get("/jobs", params={"limit": 2}).json()
    assert [j["job_id"] for j in page["jobs"]] == ids[::-1][:2]
    second = client.get("/jobs", params={"limit": 2, "cursor": page["next_cursor"]}).json()
    third = client.get("/jobs", params={"limit": 2, "cursor": second["next_cursor"]}).json()
    assert [j["job_id"] for j in second["jobs"] + third["jobs"]] == ids[::-1][2:]
    assert third["next_cursor"] is None
    assert {j["model_name"] for j in client.get("/jobs", params={"model_name": "model-1"}).json()["jobs"]} == {"model-1"}
    assert len(client.get("/jobs", params={"state": "queued", "owner": "machine-learning-infrastructure"}).json()["jobs"]) == 5
    assert client.get("/jobs", params={"state": "running"}).json()["jobs"] == []
    assert client.get("/jobs", params={"cursor": "garbage"}).status_code == 422


def test_cancel_queued_job_and_ship_rules(client, charges_path):
    job_id = client.post("/train", json=body(charges_path)).json()["job_id"]
    cancelled = client.post(f"/job/{job_id}/cancel").json()
    assert cancelled["job_state"] == "cancelled"
    assert [t["job_state"] for t in cancelled["transitions"]] == ["queued", "cancelled"]
    assert client.post(f"/job/{job_id}/ship").status_code == 409
    assert client.post(f"/job/{job_id}/unship").json()["shipped"] is False


def test_unknown_job_is_404(client):
    for path in ("status", "result", "logs"):
        assert client.get(f"/job/nope/{path}").status_code == 404
    assert client.post("/job/nope/cancel").status_code == 404


def test_health_metrics_and_openapi(client, charges_path):
    client.post("/train", json=body(charges_path))
    assert client.get("/healthz").json() == {"status": "ok", "database": "ok", "dispatcher": "disabled"}
    metrics = client.get("/metrics").text
    assert 'railyard_jobs_created_total{compute_resource="CPU"} 1.0' in metrics
    assert "railyard_queue_depth 1.0" in metrics
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/train", "/validate", "/job/{job_id}/status", "/job/{job_id}/result", "/jobs", "/job/{job_id}/cancel",
                 "/job/{job_id}/ship", "/job/{job_id}/unship", "/healthz", "/metrics"):
        assert path in paths


def test_request_body_size_limit(app_factory, charges_path):
    client = app_factory(dispatch=False, dev=True, max_body_bytes=2048)
    response = client.post("/train", content=json.dumps(body(charges_path) | {"padding": "x" * 5000}),
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 413


def test_auth_401_404_and_scoped_reads(app_factory, charges_path, tokens_file, small_pex):
    client = app_factory(dispatch=False, auth_tokens=tokens_file)
    assert client.post("/train", json=body(charges_path)).status_code == 401
    assert client.get("/jobs", headers={"Authorization": "Bearer wrong-token-123456789"}).status_code == 401
    assert client.get("/jobs", headers={"Authorization": "Basic YWxpY2U6eA=="}).status_code == 401
    assert client.get("/metrics").status_code == 401 and client.get("/healthz").status_code == 200
    published = publish(client, small_pex, CI)
    raw = body(charges_path) | {"binary": published["name"]}
    raw["spec"]["metadata"]["owner"] = "fraud-team"
    # alice may submit as her team; bob may not (and has no data prefixes either)
    assert client.post("/train", json=raw, headers=BOB).status_code == 403
    job_id = client.post("/train", json=raw, headers=ALICE).json()["job_id"]
    for verb in ("status", "result", "logs"):
        assert client.get(f"/job/{job_id}/{verb}", headers=BOB).status_code == 404
    for verb in ("cancel", "ship"):
        assert client.post(f"/job/{job_id}/{verb}", headers=BOB).status_code == 404
    assert client.get("/jobs", headers=BOB).json()["jobs"] == []
    assert [j["job_id"] for j in client.get("/jobs", headers=ALICE).json()["jobs"]] == [job_id]
    assert [j["job_id"] for j in client.get("/jobs", headers=ADMIN).json()["jobs"]] == [job_id]
    status = client.get(f"/job/{job_id}/status", headers=ALICE).json()
    assert status["binary_sha256"] == published["sha256"] and status["git_commit"] == published["git_commit"]
    assert client.post(f"/job/{job_id}/cancel", headers=ALICE).json()["job_state"] == "cancelled"
    cancelled = client.get(f"/job/{job_id}/status", headers=ALICE).json()
    assert cancelled["transitions"][-1]["actor"] == "alice"


def test_publishing_is_idempotent_and_needs_publish_rights(app_factory, tokens_file, small_pex):
    client = app_factory(dispatch=False, auth_tokens=tokens_file)
    first = client.post("/binaries", content=small_pex.read_bytes(), headers=CI)
    assert first.status_code == 201
    record = first.json()
    assert record["name"] == "small_train" and record["target"] == "//tests:small_train" and record["publisher"] == "ci"
    assert record["ref"] == f"small_train@sha256:{record['sha256']}" and record["git_dirty"] is False
    again = client.post("/binaries", content=small_pex.read_bytes(), headers=ADMIN)
    assert again.status_code == 200 and again.json() == record
    assert client.post("/binaries", content=small_pex.read_bytes(), headers=ALICE).status_code == 403
    stored = client.app.state.parts.binary_store.path(record["sha256"])
    assert stored.stat().st_mode & 0o777 == 0o500
    assert [b["sha256"] for b in client.get("/binaries", headers=BOB).json()["binaries"]] == [record["sha256"]]
    not_a_pex = client.post("/binaries", content=b"#!/bin/sh\necho hi\n", headers=CI)
    assert not_a_pex.status_code == 422 and "not a Railyard trainer pex" in not_a_pex.json()["detail"][0]["msg"]


def test_binary_must_be_a_published_reference(app_factory, charges_path, tokens_file, small_pex):
    client = app_factory(dispatch=False, auth_tokens=tokens_file)
    published = publish(client, small_pex, CI)
    raw = body(charges_path)
    raw["spec"]["metadata"]["owner"] = "alice"
    for accepted in ("small_train", published["ref"], f"sha256:{published['sha256']}"):
        response = client.post("/train", json=raw | {"binary": accepted}, headers=ALICE)
        assert response.status_code == 202, response.text
    for refused in ("/bin/echo", "dev", "//workflows:fraud_train", str(small_pex), f"other@sha256:{published['sha256']}"):
        response = client.post("/train", json=raw | {"binary": refused}, headers=ALICE)
        assert response.status_code == 422, refused
        assert "NAME@sha256:HEX" in response.json()["detail"][0]["msg"]
    outside = client.post("/train", json=raw | {"binary": "small_train", "workflow_modules": ["os"]}, headers=ALICE)
    assert outside.status_code == 422 and outside.json()["detail"][0]["loc"] == ["body", "workflow_modules", 0]
    inside = client.post("/train", json=raw | {"binary": "small_train", "workflow_modules": ["workflows.fraud.workflow"]}, headers=ALICE)
    assert inside.status_code == 202


def test_serving_beyond_loopback_needs_tokens_and_dev_is_for_one_person(tmp_path, tokens_file):
    from railyard.api.app import create_app
    from railyard.api.settings import Settings
    from railyard.errors import UserError

    with pytest.raises(UserError, match="serving beyond loopback needs --auth-tokens"):
        create_app(Settings(host="0.0.0.0", db=str(tmp_path / "db.sqlite")))
    with pytest.raises(UserError, match="cannot be combined with --auth-tokens"):
        create_app(Settings(db=str(tmp_path / "db.sqlite"), dev=True, auth_tokens=tokens_file))
    with pytest.raises(UserError, match="--dev: serves only on a loopback address"):
        create_app(Settings(host="0.0.0.0", db=str(tmp_path / "db.sqlite"), dev=True, auth_tokens=None))


def test_concurrent_requests_with_one_idempotency_key_make_one_job(client, charges_path):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda _: client.post("/train", json=body(charges_path), headers={"Idempotency-Key": "race"}), range(8)))
    assert {r.status_code for r in responses} == {202}
    assert len({r.json()["job_id"] for r in responses}) == 1
    assert len(client.get("/jobs").json()["jobs"]) == 1


def test_idempotency_keys_expire_after_24_hours(app_factory, charges_path):
    import datetime as dt

    from railyard.api.store import service
    from railyard.api.store.models import IdempotencyKey

    client = app_factory(dispatch=False, dev=True)
    first = client.post("/train", json=body(charges_path), headers={"Idempotency-Key": "old"}).json()["job_id"]
    sessions = client.app.state.sessions
    with sessions() as session:
        record = session.get(IdempotencyKey, ("old", "anonymous"))
        record.created_at = record.created_at - dt.timedelta(hours=25)
        session.commit()
    again = client.post("/train", json=body(charges_path), headers={"Idempotency-Key": "old"}).json()["job_id"]
    assert again != first  # the old key was forgotten: a new job
    with sessions() as session:
        record = session.get(IdempotencyKey, ("old", "anonymous"))
        record.created_at = record.created_at - dt.timedelta(hours=25)
        session.commit()
        assert service.forget_expired_keys(session) == 1


def test_validation_runs_in_a_subprocess_with_time_and_memory_limits(app_factory, charges_path):
    slow = app_factory(dispatch=False, dev=True, plan_seconds=0.05)
    response = slow.post("/validate", json=body(charges_path))
    assert response.status_code == 422 and "took longer than 0.05 s" in response.json()["detail"][0]["msg"]
    small = app_factory(dispatch=False, dev=True, plan_memory_bytes=64 << 20)
    response = small.post("/validate", json=body(charges_path))
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "spec"]
    assert small.get("/healthz").status_code == 200


def test_busy_validation_slots_are_503_and_one_principal_may_not_queue_many(app_factory, charges_path):
    from concurrent.futures import ThreadPoolExecutor

    client = app_factory(dispatch=False, dev=True, plan_concurrency=1)
    planner = client.app.state.parts.planner
    planner.busy_wait_seconds = 0.2
    with ThreadPoolExecutor(2) as pool:
        codes = sorted(r.status_code for r in pool.map(lambda _: client.post("/validate", json=body(charges_path)), range(2)))
    assert codes == [200, 503]
    planner.busy_wait_seconds, planner.per_principal = 60, 1
    with ThreadPoolExecutor(2) as pool:
        responses = list(pool.map(lambda _: client.post("/validate", json=body(charges_path)), range(2)))
    assert sorted(r.status_code for r in responses) == [200, 429]
    assert client.get("/healthz").status_code == 200


def test_another_site_cannot_change_anything_on_a_laptop_service(client, charges_path):
    job_id = client.post("/train", json=body(charges_path)).json()["job_id"]
    evil = {"Origin": "https://evil.example"}
    assert client.post(f"/job/{job_id}/cancel", headers=evil).status_code == 403
    assert client.post("/train", json=body(charges_path), headers=evil).status_code == 403
    assert client.get(f"/job/{job_id}/status", headers=evil).json()["job_state"] == "queued"
    same_site = {"Origin": "http://127.0.0.1"}
    assert client.post(f"/job/{job_id}/cancel", headers=same_site).json()["job_state"] == "cancelled"


def test_a_job_of_several_workers_says_so(client, charges_path):
    job_id = client.post("/train", json=body(charges_path, workers=4)).json()["job_id"]
    assert client.get(f"/job/{job_id}/status").json()["workers"] == 4
    assert [job["workers"] for job in client.get("/jobs").json()["jobs"]] == [4]
    assert "StripeFraudModel on CPU, 4 workers" in client.get(f"/ui/job/{job_id}").text
    single = client.post("/train", json=body(charges_path)).json()["job_id"]
    assert client.get(f"/job/{single}/status").json()["workers"] == 1
    assert "StripeFraudModel on CPU</td>" in client.get(f"/ui/job/{single}").text

    too_many = client.post("/train", json=body(charges_path, workers=9))  # this service runs jobs on its own machine
    assert too_many.status_code == 422
    [problem] = too_many.json()["detail"]
    assert problem["loc"] == ["body", "spec", "workers"]
    assert problem["msg"].startswith("the LocalExecutor runs at most 8 workers of a job, got 9")
    assert len(client.get("/jobs").json()["jobs"]) == 2
    assert client.post("/validate", json=body(charges_path, workers=9)).json()["detail"] == too_many.json()["detail"]


def test_a_compute_resource_without_a_class_here_is_refused_before_queueing(app_factory, charges_path, tmp_path):
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    config["resource_classes"] = {"CPU": {**config["resource_classes"]["CPU"], "larger": None}}
    (tmp_path / "cpu-only.yaml").write_text(yaml.safe_dump(config))
    client = app_factory(dispatch=False, dev=True, launch_config=str(tmp_path / "cpu-only.yaml"))
    for path in ("/train", "/validate"):
        refused = client.post(path, json=body(charges_path, compute_resource="GPU"))
        assert refused.status_code == 422
        assert refused.json()["detail"] == [{"loc": ["body", "spec", "compute_resource"], "type": "value_error",
                                             "msg": "'GPU' is not a configured resource class; known: CPU"}]
    assert client.get("/jobs").json()["jobs"] == []
