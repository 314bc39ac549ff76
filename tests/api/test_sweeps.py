"""Sweeps with real Optuna and real training on small data: trials are ordinary jobs of the sweep's owner, asked
of its study `parallel` at a time; the best trial is named with its values; a pruner stops a trial of a planted
bad region before its last round; a sweep goes on after the service restarts, running no trial twice."""

from __future__ import annotations

import time

import pytest

from tests.api.conftest import ALICE, BOB
from tests.conftest import example_spec

pytestmark = pytest.mark.slow
FINISHED = ("complete", "failed", "cancelled")


def fraud_spec(charges_path, rounds: int, **params) -> dict:
    spec = example_spec("fraud", charges_path)
    spec["train"]["custom_params"] = {"objective": "binary:logistic", "n_estimators": rounds, "max_depth": 3, **params}
    return spec


def sweep_body(charges_path, *, trials: int, parallel: int, space: dict, rounds: int = 20, **options) -> dict:
    return {"spec": fraud_spec(charges_path, rounds), "space": space, "binary": "dev", "metric": "roc_auc",
            "direction": "maximize", "trials": trials, "parallel": parallel, **options}


def wait_for_sweep(client, sweep_id: str, headers: dict | None = None, timeout: float = 600, until=None) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sweep = client.get(f"/sweeps/{sweep_id}", headers=headers).json()
        if (until or (lambda s: s["state"] in FINISHED))(sweep):
            return sweep
        time.sleep(0.3)
    raise AssertionError(f"sweep {sweep_id} never got there: {sweep}")


def test_an_eight_trial_sweep_at_parallelism_two_names_its_best_trial(app_factory, charges_path):
    client = app_factory(dev=True)
    space = {"train.custom_params.max_depth": {"int": [1, 6]}, "train.custom_params.learning_rate": {"float": [0.01, 0.5], "log": True}}
    body = sweep_body(charges_path, trials=8, parallel=2, space=space, sampler="random", pruner="none", seed=7)
    sweep_id = client.post("/sweeps", json=body).json()["sweep_id"]
    most_at_once = 0
    sweep = {"state": "running"}
    while sweep["state"] not in FINISHED:
        sweep = client.get(f"/sweeps/{sweep_id}").json()
        most_at_once = max(most_at_once, sum(sweep["counts"].get(state, 0) for state in ("queued", "running")))
        time.sleep(0.2)
    assert sweep["state"] == "complete", sweep
    trials = sweep["trial_jobs"]
    assert [t["number"] for t in trials] == list(range(8)) and all(t["job_state"] == "complete" for t in trials)
    assert 1 <= most_at_once <= 2
    assert len({(t["values"]["train.custom_params.max_depth"], t["values"]["train.custom_params.learning_rate"]) for t in trials}) == 8
    best = max(trials, key=lambda t: t["value"])
    assert sweep["best"]["job_id"] == best["job_id"] and sweep["best"]["value"] == best["value"]
    job = client.get(f"/job/{best['job_id']}/status").json()
    assert job["owner"] == "machine-learning-infrastructure"
    spec = client.get(f"/job/{best['job_id']}/result").json()
    assert spec["status"]["job_state"] == "complete"
    listed = client.get("/sweeps").json()["sweeps"]
    assert [s["sweep_id"] for s in listed] == [sweep_id] and listed[0]["best"]["job_id"] == best["job_id"]


def test_a_planted_bad_region_gets_a_trial_pruned_before_its_last_round(app_factory, charges_path, monkeypatch):
    monkeypatch.setenv("RAILYARD_PROGRESS_SECONDS", "0.1")  # the learning curve the pruner reads, every tenth of a second
    client = app_factory(dev=True)
    # Above 4,000 no tree can split (the training rows' hessians sum to less): a model that learns nothing.
    space = {"train.custom_params.min_child_weight": {"float": [0.1, 1e7], "log": True}}
    body = sweep_body(charges_path, trials=8, parallel=2, space=space, rounds=1000, sampler="random", pruner="median", seed=2)
    sweep_id = client.post("/sweeps", json=body).json()["sweep_id"]
    sweep = wait_for_sweep(client, sweep_id)
    assert sweep["state"] == "complete", sweep
    pruned = [t for t in sweep["trial_jobs"] if t["job_state"] == "pruned"]
    weight = lambda t: t["values"]["train.custom_params.min_child_weight"]  # noqa: E731
    assert [t for t in pruned if weight(t) > 4000], [(weight(t), t["job_state"], t["value"]) for t in sweep["trial_jobs"]]
    for trial in pruned:
        reached = int(trial["message"].split("pruned at round ")[1].split(" ")[0])
        assert 0 < reached < 1000 and "of 1000" in trial["message"], trial["message"]
        assert client.get(f"/job/{trial['job_id']}/status").json()["reason"] is None  # its own finished state, not a failure
    best = sweep["best"]
    assert weight(best) < 4000 and best["value"] > 0.6 and best["job_id"] not in {t["job_id"] for t in pruned}
    assert sweep["counts"]["pruned"] == len(pruned) and f"{len(pruned)} pruned" in sweep["message"]
