"""POST /job/{id}/replay: the same binary and spec run again, under the caller's identity; its result says
"reproduced: same model id" or names what differed (a changed data file), with the metrics that moved."""

from __future__ import annotations

import shutil

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from railyard.api import replays
from railyard.api.store.models import Job
from tests.api.conftest import ALICE, BOB, CI, publish
from tests.api.test_explain import CAROL, fraud_body, tokens_with_carol, wait_for  # noqa: F401 (fixture)


def test_who_may_replay_a_job_and_what_the_replay_records(app_factory, charges_path, tokens_with_carol, small_pex):
    client = app_factory(dispatch=False, auth_tokens=tokens_with_carol)
    binary = publish(client, small_pex, CI)
    job_id = client.post("/train", json=fraud_body(charges_path, "small_train", owner="fraud-team"), headers=ALICE).json()["job_id"]
    assert client.post(f"/job/{job_id}/replay").status_code == 401
    for who in (CAROL, BOB):
        hidden = client.post(f"/job/{job_id}/replay", headers=who)
        assert hidden.status_code == 404 and hidden.json() == {"detail": f"no job {job_id}"}
    assert client.post("/job/no-such-job/replay", headers=ALICE).status_code == 404

    replay = client.post(f"/job/{job_id}/replay", headers=ALICE)
    assert replay.status_code == 202, replay.text
    status = client.get(f"/job/{replay.json()['job_id']}/status", headers=ALICE).json()
    assert status["replays_job_id"] == job_id and status["owner"] == "fraud-team"
    assert status["binary_sha256"] == binary["sha256"] and status["job_state"] == "queued"
    verdict = client.get(f"/job/{replay.json()['job_id']}/result", headers=ALICE).json()["replay"]
    assert verdict["reproduced"] is None and verdict["summary"] == f"not compared: job {job_id} is queued, the replay queued"

    again = client.post(f"/job/{job_id}/replay", headers={**ALICE, "Idempotency-Key": "k1"}).json()["job_id"]
    assert client.post(f"/job/{job_id}/replay", headers={**ALICE, "Idempotency-Key": "k1"}).json()["job_id"] == again


def test_a_job_whose_binary_is_gone_or_that_explains_is_not_replayed(app_factory, charges_path, tokens_with_carol, small_pex, tmp_path):
    client = app_factory(dispatch=False, auth_tokens=tokens_with_carol)
    binary = publish(client, small_pex, CI)
    job_id = client.post("/train", json=fraud_body(charges_path, "small_train", owner="fraud-team"), headers=ALICE).json()["job_id"]
    (tmp_path / "binaries" / f"{binary['sha256']}.pex").unlink()
    gone = client.post(f"/job/{job_id}/replay", headers=ALICE)
    assert gone.status_code == 409 and "is not in this service's binary store" in gone.json()["detail"]


def job(**fields) -> Job:
    return Job(**{"id": "a", "state": "complete", "model_id": "sha256.A", "binary_sha256": "b" * 64, "spec_hash": "s",
                  "data_fingerprint": [{"path": "/d", "files": [{"path": "/d/1.parquet", "size": 10, "mtime": "t1"}]}],
                  **fields})


def test_the_comparison_names_each_difference():
    same = replays.compare(job(), job(id="b"), {}, {})
    assert same["reproduced"] is True and same["summary"] == "reproduced: same model id sha256.A" and same["differences"] == []

    changed = job(id="b", model_id="sha256.B", binary_sha256="c" * 64, data_fingerprint=[{"path": "/d", "files": [
        {"path": "/d/1.parquet", "size": 12, "mtime": "t2"}, {"path": "/d/2.parquet", "size": 1, "mtime": "t2"}]}])
    before = {"status": {"libraries": {"xgboost": "3.1.0"}}, "result": {"metrics": {"roc_auc": 0.80, "pr_auc": 0.3}}}
    now = {"status": {"libraries": {"xgboost": "3.2.0"}}, "result": {"metrics": {"roc_auc": 0.75, "pr_auc": 0.3}}}
    verdict = replays.compare(job(), changed, before, now)
    assert verdict["reproduced"] is False
    assert verdict["differences"] == [f"binary: sha256 {'b' * 64} → {'c' * 64}", "data: /d/2.parquet is new",
                                      "data: /d/1.parquet changed (size 10 → 12, mtime t1 → t2)", "library: xgboost 3.1.0 → 3.2.0"]
    assert list(verdict["metrics"]) == ["roc_auc"] and verdict["metrics"]["roc_auc"]["difference"] == pytest.approx(-0.05)
    assert verdict["summary"].startswith("not reproduced: model sha256.A → sha256.B; binary:") and "roc_auc 0.8 → 0.75" in verdict["summary"]

    hostile = {"status": "not an object", "result": {"metrics": ["a", "list"]}}
    assert replays.compare(job(), job(id="b"), hostile, {"status": {"libraries": [1, 2]}})["reproduced"] is True

    unexplained = replays.compare(job(), job(id="b", model_id="sha256.B"), {}, {})
    assert "nothing this service records differs" in unexplained["summary"]


@pytest.mark.slow
def test_a_replay_reproduces_the_model_and_names_a_changed_data_file(app_factory, charges_path, tmp_path):
    client = app_factory(dev=True)
    data = tmp_path / "charges.parquet"
    shutil.copy(charges_path, data)
    job_id = client.post("/train", json=fraud_body(data)).json()["job_id"]
    assert wait_for(client, job_id)["job_state"] == "complete"

    replay_id = client.post(f"/job/{job_id}/replay").json()["job_id"]
    assert wait_for(client, replay_id)["job_state"] == "complete"
    verdict = client.get(f"/job/{replay_id}/result").json()["replay"]
    model_id = client.get(f"/job/{job_id}/result").json()["result"]["model_id"]
    assert verdict["reproduced"] is True and verdict["summary"] == f"reproduced: same model id {model_id}"
    assert f"reproduced: same model id {model_id}" in client.get(f"/ui/job/{replay_id}").text

    table = pq.read_table(data)
    flipped = pc.if_else(pa.array([i < 3000 for i in range(table.num_rows)]), pc.invert(table["has_fraud_dispute"]), table["has_fraud_dispute"])
    pq.write_table(table.set_column(table.schema.get_field_index("has_fraud_dispute"), "has_fraud_dispute", flipped), data)
    changed_id = client.post(f"/job/{job_id}/replay").json()["job_id"]
    assert wait_for(client, changed_id)["job_state"] == "complete"
    verdict = client.get(f"/job/{changed_id}/result").json()["replay"]
    assert verdict["reproduced"] is False and verdict["model_id_before"] == model_id
    assert [d for d in verdict["differences"] if d.startswith(f"data: {data} changed (size ")], verdict["differences"]
    assert verdict["metrics"] and "roc_auc" in verdict["summary"]
