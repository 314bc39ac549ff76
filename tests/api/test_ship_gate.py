"""The ship gate: a model's ship policy, set by its owners or an admin, refuses a challenger that does not beat the
shipped champion on the champion's holdout (409 naming the metric, both values and the champion's job); an admin,
or the owner where the policy allows, ships anyway with a reason; every verdict is kept in the model's history."""

from __future__ import annotations

from urllib.parse import quote

from railyard.api.store.models import Job
from tests.api.conftest import ADMIN, ALICE, BOB
from tests.api.test_dashboard_charts import FRAUD_MODEL, stored_job

MODEL = quote(FRAUD_MODEL)
POLICY = {"owner": "fraud-team", "metric": "roc_auc", "direction": "maximize", "min_gain": 0.01}
FINGERPRINT = [{"path": "/data/charges.parquet", "rows": 1000, "sha256": "ab" * 32}]
SPEC = {"data": {"features": [{"names": ["amount"], "path": "/data/charges.parquet"}]},
        "holdout_sampling": {"sampling_function": "RANDOM", "random_sampling": {"fraction": 0.2}},
        "train": {"label": "is_fraud", "custom_params": {}}}


def judged_job(client, tmp_path, minutes: int, roc_auc: float | None, fingerprint=FINGERPRINT) -> str:
    job_id = stored_job(client, tmp_path, owner="fraud-team", kind="training", minutes=minutes, result={"kind": "training"})
    with client.app.state.sessions() as session:
        job = session.get(Job, job_id)
        job.metrics = {"kind": "binary_classification"} | ({"roc_auc": roc_auc} if roc_auc is not None else {})
        job.data_fingerprint, job.spec = fingerprint, SPEC
        session.commit()
    return job_id


def ship(client, job_id: str, headers: dict, reason: str | None = None):
    return client.post(f"/job/{job_id}/ship", headers=headers, json={"override_reason": reason} if reason else None)


def history(client) -> list[tuple]:
    events = client.get(f"/models/{MODEL}/history", headers=ALICE).json()["events"]
    return [(e["job_id"], e["action"], e["actor"], e["override_reason"]) for e in reversed(events)]


def test_the_gate_refuses_a_worse_model_accepts_a_better_one_and_keeps_an_override_with_its_reason(app_factory, tmp_path, tokens_file):
    client = app_factory(dispatch=False, auth_tokens=tokens_file)
    champion = judged_job(client, tmp_path, 0, 0.90)
    assert ship(client, champion, ALICE).status_code == 200  # no policy yet: ships as always
    assert client.put(f"/models/{MODEL}/ship-policy", headers=ALICE, json=POLICY).status_code == 200

    worse, slightly, better = judged_job(client, tmp_path, 1, 0.85), judged_job(client, tmp_path, 2, 0.905), judged_job(client, tmp_path, 3, 0.93)
    refused = ship(client, worse, ALICE)
    assert refused.status_code == 409
    detail = refused.json()["detail"]
    assert "roc_auc 0.85" in detail and "0.9" in detail and f"job {champion}" in detail, detail
    assert ship(client, slightly, ALICE).status_code == 409  # better, but not by min_gain
    assert client.get(f"/job/{worse}/status", headers=ALICE).json()["shipped"] is None

    assert ship(client, worse, ALICE, reason="rollback while the feed is fixed").status_code == 403  # the policy allows no owner override
    override = ship(client, worse, ADMIN, reason="rollback while the feed is fixed")
    assert override.status_code == 200 and override.json()["shipped"] is True

    assert client.post(f"/job/{worse}/unship", headers=ALICE).status_code == 200  # an unship lowers no bar: still 0.85 to beat
    assert ship(client, slightly, ALICE).status_code == 200  # 0.905 beats the last champion, 0.85
    assert client.post(f"/job/{slightly}/unship", headers=ALICE).status_code == 200
    accepted = ship(client, better, ALICE)
    assert accepted.status_code == 200, accepted.text

    events = client.get(f"/models/{MODEL}/history", headers=ALICE).json()["events"]
    assert [(e["job_id"], e["action"]) for e in reversed(events)] == [
        (champion, "ship"), (worse, "refused"), (slightly, "refused"), (worse, "refused"), (worse, "ship"), (worse, "unship"),
        (slightly, "ship"), (slightly, "unship"), (better, "ship")]
    kept = {(e["job_id"], e["action"], e["actor"]): e for e in events}
    assert kept[(worse, "ship", "root")]["override_reason"] == "rollback while the feed is fixed"
    assert "does not beat" in kept[(worse, "ship", "root")]["verdict"]
    assert kept[(worse, "refused", "alice")]["verdict"]
    assert f"beats the champion's 0.905 (job {slightly})" in kept[(better, "ship", "alice")]["verdict"]

    page = client.get(f"/ui/model/{MODEL}", headers=ALICE).text
    assert "rollback while the feed is fixed" in page and 'class="ship-policy"' in page and page.count("ship-refused") == 3 and "judged on the champion's holdout" in page


def test_only_the_model_owners_or_an_admin_set_its_policy_and_an_owner_overrides_only_by_policy(app_factory, tmp_path, tokens_file):
    client = app_factory(dispatch=False, auth_tokens=tokens_file)
    assert client.put(f"/models/{MODEL}/ship-policy", headers=BOB, json=POLICY).status_code == 403
    assert client.get(f"/models/{MODEL}/ship-policy?owner=fraud-team", headers=BOB).status_code == 404
    assert client.get(f"/models/{MODEL}/ship-policy?owner=fraud-team", headers=ALICE).status_code == 404
    for bad in ({"min_gain": -0.1}, {"metric": ""}, {"direction": "up"}, {"surprise": 1}):
        answer = client.put(f"/models/{MODEL}/ship-policy", headers=ALICE, json=POLICY | bad)
        assert answer.status_code == 422, (bad, answer.text)
    assert client.put("/models/bad%0Aname/ship-policy", headers=ALICE, json=POLICY).status_code in (404, 422)

    loosened = client.put(f"/models/{MODEL}/ship-policy", headers=ALICE, json=POLICY | {"owner_may_override": True})
    assert loosened.status_code == 403 and "only an admin" in loosened.json()["detail"]  # owners may not let themselves past
    set_by_admin = client.put(f"/models/{MODEL}/ship-policy", headers=ADMIN, json=POLICY | {"owner_may_override": True})
    assert set_by_admin.status_code == 200 and set_by_admin.json()["set_by"] == "root"
    assert client.get(f"/models/{MODEL}/ship-policy?owner=fraud-team", headers=ALICE).json()["owner_may_override"] is True

    champion, worse = judged_job(client, tmp_path, 0, 0.90), judged_job(client, tmp_path, 1, 0.80)
    assert ship(client, champion, ALICE).status_code == 200  # the first champion: nothing to beat
    assert ship(client, worse, ALICE, reason="x" * 2001).status_code == 422
    assert ship(client, worse, BOB, reason="mine now").status_code == 404  # not bob's job at all
    assert ship(client, worse, ALICE, reason="the owners may, by policy").status_code == 200


def test_a_challenger_judged_on_another_holdout_or_without_the_metric_is_refused(app_factory, tmp_path, tokens_file):
    client = app_factory(dispatch=False, auth_tokens=tokens_file)
    assert client.put(f"/models/{MODEL}/ship-policy", headers=ALICE, json=POLICY).status_code == 200
    champion = judged_job(client, tmp_path, 0, 0.90)
    other_data = judged_job(client, tmp_path, 1, 0.99, fingerprint=[{"path": "/data/charges.parquet", "rows": 7, "sha256": "cd" * 32}])
    no_metric = judged_job(client, tmp_path, 2, None)
    assert ship(client, no_metric, ALICE).status_code == 409  # there is no champion yet, but nothing to judge it by
    assert ship(client, champion, ALICE).status_code == 200
    refused = ship(client, other_data, ALICE)
    assert refused.status_code == 409 and "data fingerprint" in refused.json()["detail"] and champion in refused.json()["detail"]

    assert client.put(f"/models/{MODEL}/ship-policy", headers=ALICE, json=POLICY | {"same_holdout": False}).status_code == 200
    assert ship(client, other_data, ALICE).status_code == 200
