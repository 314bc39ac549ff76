"""The queued jobs of one owner are capped (max_queued_per_owner), on SQLite and on PostgreSQL: POST /train and
POST /explain answer 429 with Retry-After and a message naming the limit beyond it, concurrent submits cannot
pass it together, and other owners are still accepted; bad quota flags of `railyard serve` are refused in one line."""

import threading

import pytest

from railyard.api.store import service
from railyard.cli import main
from railyard.states import JobState
from tests.api.test_explain import MODEL_ID, explain, fraud_body

CAP = 3


def submit(client, charges_path, owner: str):
    return client.post("/train", json=fraud_body(charges_path, owner=owner))


def assert_refused(response, owner: str) -> None:
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "30"
    assert response.json() == {"detail": f"{owner} has {CAP} queued jobs, the most one owner may have "
                                         "(max_queued_per_owner); submit more as they start"}


def test_an_owner_past_the_cap_is_429_and_others_are_accepted(app_factory, charges_path):
    client = app_factory(dispatch=False, dev=True, max_queued_per_owner=CAP)
    assert [submit(client, charges_path, "alice").status_code for _ in range(CAP)] == [202] * CAP
    assert_refused(submit(client, charges_path, "alice"), "alice")
    assert submit(client, charges_path, "bob").status_code == 202
    assert client.get("/healthz").status_code == 200
    first = client.get("/jobs", params={"owner": "alice"}).json()["jobs"][-1]["job_id"]
    assert client.post(f"/job/{first}/cancel").status_code == 200  # a job leaving the queue makes room
    assert submit(client, charges_path, "alice").status_code == 202
    assert_refused(submit(client, charges_path, "alice"), "alice")


def test_explanations_count_against_the_owner_of_the_model(app_factory, charges_path):
    client = app_factory(dispatch=False, dev=True, max_queued_per_owner=CAP)
    trained = submit(client, charges_path, "alice").json()["job_id"]
    with client.app.state.sessions() as session:  # as if the job had run and made a model
        job = service.get_job(session, job_id=trained)
        job.state, job.model_id = JobState.complete.value, MODEL_ID
        session.commit()
    accepted = [explain(client, training_job_id=trained, data=str(charges_path)) for _ in range(CAP)]
    assert [r.status_code for r in accepted] == [202] * CAP
    assert_refused(explain(client, training_job_id=trained, data=str(charges_path)), "alice")
    assert_refused(submit(client, charges_path, "alice"), "alice")


def test_concurrent_submits_cannot_pass_the_cap_together(app_factory, charges_path):
    client = app_factory(dispatch=False, dev=True, max_queued_per_owner=CAP)
    answers, start = [], threading.Barrier(12)

    def post():
        start.wait()
        answers.append(submit(client, charges_path, "alice").status_code)

    threads = [threading.Thread(target=post) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [202] * CAP + [429] * (12 - CAP)
    assert len(client.get("/jobs", params={"owner": "alice", "state": "queued"}).json()["jobs"]) == CAP


@pytest.mark.parametrize("flags, message", [
    (["--max-queued-per-owner", "0"], "--max-queued-per-owner: expected a whole number of at least 1, got 0"),
    (["--max-running-per-owner", "CPU"], "--max-running-per-owner CPU: expected RESOURCE=N, e.g. CPU=2"),
    (["--max-running-per-owner", "GPU=0"], "--max-running-per-owner GPU=0: expected a whole number of at least 1"),
    (["--owner-weight", "fraud-team=heavy"], "--owner-weight fraud-team=heavy: expected OWNER=W, e.g. fraud-team=2"),
    (["--owner-weight", "fraud-team=0"], "--owner-weight fraud-team=0.0: expected a number above 0, e.g. 2 or 0.5"),
    (["--concurrency", "CPU=0"], "--concurrency CPU=0: expected a whole number of at least 1"),
])
def test_bad_quota_flags_are_refused_in_one_line(flags, message, tmp_path, capsys):
    assert main(["serve", "--db", str(tmp_path / "db"), *flags]) == 2
    assert capsys.readouterr().err == f"railyard serve: {message}\n"
