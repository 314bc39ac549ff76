"""Sweeps with real Optuna and real training on small data: trials are ordinary jobs of the sweep's owner, asked
of its study `parallel` at a time; the best trial is named with its values; a pruner stops a trial of a planted
bad region before its last round; a sweep goes on after the service restarts, running no trial twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx
import optuna
import pytest

from tests.api.service import Service
from tests.api.test_dispatcher_fair_share import finish, service, submit  # noqa: F401 - the scripted-executor fixture
from tests.conftest import REPO, example_spec

pytestmark = pytest.mark.slow
FINISHED = ("complete", "failed", "cancelled")


def fraud_spec(charges_path, rounds: int, **params) -> dict:
    spec = example_spec("fraud", charges_path)
    spec["train"]["custom_params"] = {"objective": "binary:logistic", "n_estimators": rounds, "max_depth": 3, **params}
    return spec


def sweep_body(charges_path, *, trials: int, parallel: int, space: dict, rounds: int = 20, **options) -> dict:
    return {"spec": fraud_spec(charges_path, rounds), "space": space, "binary": "dev", "metric": "roc_auc",
            "direction": "maximize", "trials": trials, "parallel": parallel, **options}


def wait_for_sweep(client, sweep: str, headers: dict | None = None, timeout: float = 600, until=None) -> dict:
    """Poll GET /sweeps/{id} (`sweep` is the id, or the URL for httpx) until `until` holds, by default its end."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sweep_state = client.get(sweep if "/" in sweep else f"/sweeps/{sweep}", headers=headers).json()
        if (until or (lambda s: s["state"] in FINISHED))(sweep_state):
            return sweep_state
        time.sleep(0.3)
    raise AssertionError(f"sweep {sweep} never got there: {sweep_state}")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # PostgreSQL drives sweeps in the tests that follow
def test_an_eight_trial_sweep_at_parallelism_two_prunes_a_planted_bad_region_and_names_its_best(app_factory, charges_path, monkeypatch):
    monkeypatch.setenv("RAILYARD_PROGRESS_SECONDS", "0.1")  # the learning curve the pruner reads, every tenth of a second
    client = app_factory(dev=True)
    # Above 4,000 no tree can split (the training rows' hessians sum to less): a model that learns nothing.
    space = {"train.custom_params.min_child_weight": {"float": [0.1, 1e7], "log": True}, "train.custom_params.max_depth": {"int": [2, 6]}}
    body = sweep_body(charges_path, trials=8, parallel=2, space=space, rounds=1000, sampler="random", pruner="median", seed=2)
    sweep_id = client.post("/sweeps", json=body).json()["sweep_id"]
    most_at_once, sweep = 0, {"state": "running"}
    while sweep["state"] not in FINISHED:
        sweep = client.get(f"/sweeps/{sweep_id}").json()
        most_at_once = max(most_at_once, sum(sweep["counts"].get(state, 0) for state in ("queued", "running")))
        time.sleep(0.2)
    assert sweep["state"] == "complete", sweep
    trials, weight = sweep["trial_jobs"], lambda t: t["values"]["train.custom_params.min_child_weight"]  # noqa: E731
    assert [t["number"] for t in trials] == list(range(8)) and 1 <= most_at_once <= 2
    assert {t["job_state"] for t in trials} <= {"complete", "pruned"} and len({weight(t) for t in trials}) == 8

    pruned = [t for t in trials if t["job_state"] == "pruned"]
    assert [t for t in pruned if weight(t) > 4000], [(weight(t), t["job_state"], t["value"]) for t in trials]
    for trial in pruned:
        reached = int(trial["message"].split("pruned at round ")[1].split(" ")[0])
        assert 0 < reached < 1000 and "of 1000" in trial["message"], trial["message"]
        assert client.get(f"/job/{trial['job_id']}/status").json()["reason"] is None  # its own finished state, not a failure
    assert sweep["counts"]["pruned"] == len(pruned) and f"{len(pruned)} pruned" in sweep["message"]

    best = max((t for t in trials if t["value"] is not None), key=lambda t: t["value"])
    assert sweep["best"] == best and weight(best) < 4000 and best["value"] > 0.6
    assert set(best["values"]) == set(space) and best["values"]["train.custom_params.max_depth"] in range(2, 7)
    job = client.get(f"/job/{best['job_id']}/status").json()
    assert job["owner"] == "machine-learning-infrastructure" and job["sweep_id"] == sweep_id and job["trial_number"] == best["number"]
    listed = client.get("/sweeps").json()["sweeps"]
    assert [s["sweep_id"] for s in listed] == [sweep_id] and listed[0]["best"]["job_id"] == best["job_id"]


def test_a_sweep_goes_on_after_kill_9_and_runs_no_trial_twice(tmp_path, charges_path):
    env = {"PYTHONPATH": f"{REPO / 'tests' / 'outside'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "RAILYARD_TEST_COUNTER": str(tmp_path / "started")}
    spec = example_spec("fraud", charges_path)
    spec["train"].update(workflow_name="CountingSlowModel", custom_params={"seconds": 1.5})
    body = {"spec": spec, "space": {"train.custom_params.max_depth": {"int": [1, 6]}}, "binary": "dev", "workflow_modules": ["team_models"],
            "metric": "roc_auc", "direction": "maximize", "trials": 6, "parallel": 2, "sampler": "grid", "pruner": "none"}
    server = Service(tmp_path / "svc", env).start()
    try:
        sweep_id = httpx.post(f"{server.url}/sweeps", json=body).json()["sweep_id"]
        wait_for_sweep(httpx, f"{server.url}/sweeps/{sweep_id}", until=lambda s: s["counts"].get("complete", 0) >= 1
                       and s["counts"].get("running", 0) >= 1)
        server.kill()  # mid-way: trials done, running and not yet asked

        server = Service(tmp_path / "svc", env).start()
        sweep = wait_for_sweep(httpx, f"{server.url}/sweeps/{sweep_id}")
        assert sweep["state"] == "complete", sweep
        trials = sweep["trial_jobs"]
        assert sorted(t["values"]["train.custom_params.max_depth"] for t in trials) == [1, 2, 3, 4, 5, 6]  # the grid, once each
        assert all(t["job_state"] == "complete" for t in trials) and [t["number"] for t in trials] == list(range(6))
        assert (tmp_path / "started").read_text().count("started") == 6  # each trial trained exactly once

        listed = railyard(server, "sweeps")
        assert listed.returncode == 0 and sweep_id in listed.stdout and "6/6 trials done (6 complete" in listed.stdout
        shown = railyard(server, "sweeps", sweep_id)
        assert f"best: trial {sweep['best']['number']}, job {sweep['best']['job_id']}, max_depth=" in shown.stdout, shown.stdout
        policy = railyard(server, "ship-policy", spec["metadata"]["model_name"], "--metric", "roc_auc", "--direction", "maximize",
                          "--min-gain", "0.01", "--owner", spec["metadata"]["owner"])
        assert policy.returncode == 0 and "a challenger ships when its roc_auc is higher than the champion's by at least 0.01" in policy.stdout
        worst = min(trials, key=lambda t: t["value"])
        assert railyard(server, "ship", sweep["best"]["job_id"]).returncode == 0  # the first champion
        refused = railyard(server, "ship", worst["job_id"])
        assert refused.returncode == 1 and "409: the ship policy of" in refused.stderr and sweep["best"]["job_id"] in refused.stderr
        assert railyard(server, "ship", worst["job_id"], "--override-reason", "a test of the gate").returncode == 0
        space_file = tmp_path / "space.json"
        space_file.write_text(json.dumps(body["space"]))
        spec_file = tmp_path / "spec.json"
        spec_file.write_text(json.dumps(spec))
        checked = railyard(server, "sweep", "--spec", str(spec_file), "--space", str(space_file), "--binary", "dev", "--workflow-module",
                           "team_models", "--metric", "roc_auc", "--direction", "maximize", "--trials", "3", "--dry-run")
        assert checked.returncode == 0 and "checked 2 specs of the space (train.custom_params.max_depth); 3 trials would run" in checked.stdout
    finally:
        server.stop()


def railyard(server: Service, *args: str) -> subprocess.CompletedProcess:
    """The `railyard` command against the service."""
    return subprocess.run([sys.executable, "-m", "railyard.cli", *args], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**server.env, "RAILYARD_URL": server.url})


def test_a_trial_asked_but_never_queued_gets_its_job_from_the_values_optuna_kept(app_factory, charges_path):
    client = app_factory(dispatch=False, dev=True)
    space = {"train.custom_params.max_depth": {"int": [2, 9]}}
    sweep = client.post("/sweeps", json=sweep_body(charges_path, trials=3, parallel=2, space=space, sampler="random")).json()
    driver = client.app.state.parts.dispatcher.sweeps
    study = optuna.load_study(study_name=f"railyard-sweep-{sweep['sweep_id']}", storage=driver.storage)
    orphan = study.ask({"train.custom_params.max_depth": optuna.distributions.IntDistribution(2, 9)})  # the service died here

    driver.drive()
    driver.drive()
    trials = client.get(f"/sweeps/{sweep['sweep_id']}").json()["trial_jobs"]
    assert [t["number"] for t in trials] == [0, 1]  # the orphan's job, then one more: parallel 2
    assert trials[0]["values"] == {"train.custom_params.max_depth": orphan.params["train.custom_params.max_depth"]}
    assert client.get(f"/job/{trials[0]['job_id']}/status").json()["job_state"] == "queued"


def test_a_sweeps_trials_wait_their_turn_behind_another_owners_job(service, charges_path):
    """Trials are the owner's ordinary jobs: with one slot, another owner's job runs right after the trial running,
    however many trials the sweep has queued."""
    client, executor, dispatcher = service(concurrency={"CPU": 1})
    body = sweep_body(charges_path, trials=40, parallel=4, space={"train.custom_params.max_depth": {"int": [1, 9]}}, sampler="random")
    sweep_id = client.post("/sweeps", json=body).json()["sweep_id"]
    dispatcher.tick()  # four trials queued, the first dispatched
    carol = submit(client, charges_path, "carol")
    for _ in range(3):
        finish(executor, dispatcher, executor.order)
    trials = {t["job_id"]: t["number"] for t in client.get(f"/sweeps/{sweep_id}").json()["trial_jobs"]}
    assert [trials.get(job_id, job_id) for job_id in executor.order] == [0, carol, 1, 2]
    assert client.get(f"/job/{carol}/status").json()["job_state"] == "complete"
    assert client.get(f"/sweeps/{sweep_id}").json()["counts"] == {"complete": 2, "queued": 4}  # parallel 4: never more
