"""What POST /sweeps refuses, each with the JSON path of the bad field, and who may see and cancel a sweep: as for a
job, only its owner's principals (another's sweep is answered as if it did not exist)."""

from __future__ import annotations

import pytest

from tests.api.conftest import ADMIN, ALICE, BOB, CI, publish
from tests.api.test_sweeps import sweep_body

SPACE = {"train.custom_params.max_depth": {"int": [2, 8]}}


@pytest.fixture
def client(app_factory, tokens_file, small_pex):
    client = app_factory(dispatch=False, auth_tokens=tokens_file)
    publish(client, small_pex, CI)
    return client


def alice_body(charges_path, **overrides) -> dict:
    body = sweep_body(charges_path, trials=4, parallel=2, space=SPACE) | {"binary": "small_train"} | overrides
    body["spec"]["metadata"]["owner"] = "fraud-team"
    return body


@pytest.mark.parametrize("space, loc, words", [
    ({}, ["body", "space"], "expected an object of 1 to 64 spec paths"),
    ({"metadata.owner": {"categorical": ["bob"]}}, ["body", "space", "metadata.owner"], "under train.custom_params"),
    ({"train.custom_params.max_depth": {"int": [8, 2]}}, ["body", "space", "train.custom_params.max_depth", "int"], "low <= high"),
    ({"train.custom_params.max_depth": {"int": [2.5, 8]}}, ["body", "space", "train.custom_params.max_depth", "int"], "two integers"),
    ({"train.custom_params.eta": {"float": [0, 1], "log": True}}, ["body", "space", "train.custom_params.eta", "log"], "low > 0"),
    ({"train.custom_params.eta": {"float": [0.1, 1], "lg": True}}, ["body", "space", "train.custom_params.eta", "lg"], "not an option"),
    ({"train.custom_params.booster": {"categorical": []}}, ["body", "space", "train.custom_params.booster", "categorical"], "1 to 1000"),
    ({"train.custom_params.booster": {"categorical": [[1]]}}, ["body", "space", "train.custom_params.booster", "categorical", 0], "a string"),
    ({"compute_resource": {"categorical": ["CPU", "HUGE"]}}, ["body", "space", "compute_resource"], "'HUGE' does not make a valid spec"),
    ({"train.custom_params..x": {"int": [1, 2]}}, ["body", "space", "train.custom_params..x"], "dot-separated names"),
    ({"train.custom_params.d": {"int": [0, 10**400]}}, ["body", "space", "train.custom_params.d", "int"], "two integers"),
    ({"train.custom_params.b": {"categorical": [1, True]}}, ["body", "space", "train.custom_params.b", "categorical"], "listed twice"),
    ({"train.custom_params.a": {"int": [1, 2]}, "train.custom_params.a.b": {"int": [1, 2]}}, ["body", "space", "train.custom_params.a"],
     "lies inside it"),
])
def test_a_bad_space_is_refused_naming_where(client, charges_path, space, loc, words):
    answer = client.post("/sweeps", json=alice_body(charges_path, space=space), headers=ALICE)
    assert answer.status_code == 422, answer.text
    [problem] = answer.json()["detail"]
    assert problem["loc"] == loc and words in problem["msg"], problem


def test_a_grid_needs_listed_values_and_its_size_caps_the_trials(client, charges_path):
    floats = alice_body(charges_path, space={"train.custom_params.eta": {"float": [0.1, 1]}}, sampler="grid")
    assert "a grid needs" in client.post("/sweeps", json=floats, headers=ALICE).json()["detail"][0]["msg"]
    plan = client.post("/sweeps?dry_run=true", json=alice_body(charges_path, sampler="grid", trials=100), headers=ALICE)
    assert plan.status_code == 200 and plan.json() == {"paths": ["train.custom_params.max_depth"], "trials": 7, "extremes_checked": 2}
    assert client.get("/sweeps", headers=ALICE).json()["sweeps"] == []  # a dry run starts nothing
    huge = {f"train.custom_params.p{i}": {"int": [0, 998]} for i in range(3)}  # 10⁹ points Optuna would hold in memory
    answer = client.post("/sweeps", json=alice_body(charges_path, space=huge, sampler="grid", trials=1), headers=ALICE)
    assert answer.status_code == 422 and "a grid of 997,002,999 points" in answer.json()["detail"][0]["msg"]


def test_only_the_owners_principals_start_see_and_cancel_a_sweep(client, charges_path):
    assert client.post("/sweeps", json=alice_body(charges_path), headers=BOB).status_code == 403
    for bad in ({"trials": 0}, {"parallel": 65}, {"direction": "up"}, {"pruner": "sometimes"}, {"surprise": 1}):
        assert client.post("/sweeps", json=alice_body(charges_path, **bad), headers=ALICE).status_code == 422, bad
    sweep = client.post("/sweeps", json=alice_body(charges_path), headers=ALICE).json()
    assert sweep["state"] == "running" and sweep["owner"] == "fraud-team" and sweep["submitted_by"] == "alice"
    sweep_id = sweep["sweep_id"]
    assert client.get(f"/sweeps/{sweep_id}", headers=BOB).status_code == 404
    assert client.post(f"/sweeps/{sweep_id}/cancel", headers=BOB).status_code == 404
    assert client.get("/sweeps", headers=BOB).json()["sweeps"] == []
    assert [s["sweep_id"] for s in client.get("/sweeps", headers=ADMIN).json()["sweeps"]] == [sweep_id]

    client.app.state.parts.dispatcher.sweeps.drive()  # two trials queued
    cancelled = client.post(f"/sweeps/{sweep_id}/cancel", headers=ALICE).json()
    assert cancelled["state"] == "cancelled" and cancelled["message"] == "cancelled by alice"
    assert [t["job_state"] for t in cancelled["trial_jobs"]] == ["cancelled", "cancelled"]
    client.app.state.parts.dispatcher.sweeps.drive()
    assert len(client.get(f"/sweeps/{sweep_id}", headers=ALICE).json()["trial_jobs"]) == 2  # no trial asked after


def test_an_owner_runs_at_most_twenty_sweeps_at_once(client, charges_path):
    for _ in range(20):
        assert client.post("/sweeps", json=alice_body(charges_path), headers=ALICE).status_code == 202
    refused = client.post("/sweeps", json=alice_body(charges_path), headers=ALICE)
    assert refused.status_code == 429 and "20 running sweeps" in refused.json()["detail"] and refused.headers["Retry-After"] == "60"
    assert client.post("/sweeps?dry_run=true", json=alice_body(charges_path), headers=ALICE).status_code == 200  # a check still answers
    first = client.get("/sweeps?limit=1", headers=ALICE).json()["sweeps"][0]["sweep_id"]
    client.post(f"/sweeps/{first}/cancel", headers=ALICE)
    assert client.post("/sweeps", json=alice_body(charges_path), headers=ALICE).status_code == 202
