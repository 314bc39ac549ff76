"""Black-box: one owner's flood does not hold everyone else back, against a running `railyard serve --auth-tokens`
with one CPU slot. Another owner's job leaves the queue within the first three, however many the first owner
queued; an owner past its queued-jobs cap gets 429 naming the limit while another owner is still accepted.
Every job trains long enough to hold the slot until the test cancels it."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.api.conftest import ALICE, CI, tokens_yaml
from tests.api.service import Service
from tests.security.test_attacks import post, spec_for, still_healthy  # noqa: F401 (a fixture)

pytestmark = pytest.mark.slow
CAROL = {"Authorization": "Bearer carol-token-0123456789"}
MAX_QUEUED = 8


@pytest.fixture(scope="module")
def service(tmp_path_factory, charges_path, fraud_pex):
    workdir = tmp_path_factory.mktemp("fair-share")
    tokens = workdir / "tokens.yaml"
    tokens.write_text(tokens_yaml(charges_path.parent) +
                      f"carol-token-0123456789: {{owner: carol, teams: [risk], data_prefixes: [{str(charges_path.parent)!r}]}}\n")
    args = ("--auth-tokens", str(tokens), "--concurrency", "CPU=1", "--max-queued-per-owner", str(MAX_QUEUED))
    service = Service(workdir / "svc", args=args).start()
    with open(fraud_pex, "rb") as f:
        published = httpx.post(f"{service.url}/binaries", content=f, headers=CI, timeout=600)
    assert published.status_code in (200, 201), published.text
    yield service
    service.stop()


def submit(service, charges_path, headers: dict, owner: str) -> httpx.Response:
    spec = spec_for(charges_path, owner)
    spec["train"]["custom_params"]["n_estimators"] = 1_000_000  # runs until cancelled
    return post(service, "/train", {"spec": spec, "binary": "fraud_train"}, headers)


def queue(service, charges_path, headers: dict, owner: str, count: int) -> list[str]:
    answers = [submit(service, charges_path, headers, owner) for _ in range(count)]
    assert [a.status_code for a in answers] == [202] * count, answers[-1].text
    return [a.json()["job_id"] for a in answers]


def status(service, job_id: str, headers: dict) -> dict:
    return httpx.get(f"{service.url}/job/{job_id}/status", headers=headers, timeout=30).json()


def left_queue_at(status: dict) -> str | None:
    """When the job first left the queue (its first transition past queued), or None while it waits."""
    return next((t["created_at"] for t in status["transitions"] if t["job_state"] != "queued"), None)


def cancel_all(service, jobs: dict[str, dict]) -> None:
    """The queued jobs first, so that none is dispatched into the slot a cancelled running job frees."""
    queued_first = sorted(jobs.items(), key=lambda item: status(service, item[0], item[1])["job_state"] != "queued")
    for job_id, headers in queued_first:
        httpx.post(f"{service.url}/job/{job_id}/cancel", headers=headers, timeout=120)


def wait_running(service, job_id: str, headers: dict, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while status(service, job_id, headers)["job_state"] != "running":
        assert time.monotonic() < deadline, status(service, job_id, headers)
        time.sleep(0.2)


def test_another_owners_job_leaves_the_queue_within_the_first_three(service, charges_path):
    flood = queue(service, charges_path, ALICE, "fraud-team", 8)
    single = queue(service, charges_path, CAROL, "carol", 1)[0]
    jobs = {**{job_id: ALICE for job_id in flood}, single: CAROL}
    try:
        deadline = time.monotonic() + 120
        while left_queue_at(status(service, single, CAROL)) is None:
            assert time.monotonic() < deadline, "carol's job never left the queue"
            for job_id in flood:  # whatever holds the one slot is cancelled, so that the next job is dispatched
                if status(service, job_id, ALICE)["job_state"] == "running":
                    httpx.post(f"{service.url}/job/{job_id}/cancel", headers=ALICE, timeout=30)
            time.sleep(0.3)
        left = {job_id: left_queue_at(status(service, job_id, headers)) for job_id, headers in jobs.items()}
        order = sorted((at, job_id) for job_id, at in left.items() if at is not None)
        assert single in [job_id for _, job_id in order[:3]], order
    finally:
        cancel_all(service, jobs)


def test_an_owner_past_the_queued_cap_gets_429_and_another_owner_is_accepted(service, charges_path):
    holder = queue(service, charges_path, CAROL, "carol", 1)[0]  # holds the one slot: nothing else leaves the queue
    jobs = {holder: CAROL}
    try:
        wait_running(service, holder, CAROL)
        jobs.update({job_id: ALICE for job_id in queue(service, charges_path, ALICE, "alice", MAX_QUEUED)})
        refused = submit(service, charges_path, ALICE, "alice")
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
        assert refused.json()["detail"] == (f"alice has {MAX_QUEUED} queued jobs, the most one owner may have "
                                            "(max_queued_per_owner); submit more as they start")
        team = submit(service, charges_path, ALICE, "fraud-team")  # the same person, another owner: its own count
        other = submit(service, charges_path, CAROL, "carol")
        assert (team.status_code, other.status_code) == (202, 202)
        jobs.update({team.json()["job_id"]: ALICE, other.json()["job_id"]: CAROL})
        assert status(service, holder, CAROL)["job_state"] == "running"
    finally:
        cancel_all(service, jobs)
