"""Black-box attacks on the data prefixes at the moment data is opened, and on the service's memory, against a
running `railyard serve --auth-tokens FILE` with one CPU slot.

Alice's team reads only under its prefix. Everything she names is inside it when she submits; after the 202
she swaps a link to bob's file into place: as the single file, as one file of a directory dataset, as a hive
partition folder, and where a file was missing at submit; through /validate and an explanation job too. The
jobs wait behind a job that holds the only CPU slot until every swap is done, so each trainer opens the data
only after it was swapped. Each attack must be refused with the service's own 403 line, and nothing of bob's
file (its column names, its values, its path and the names beside it) may appear in anything alice can read.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import time
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.api.conftest import ALICE, CI, tokens_yaml
from tests.api.service import Service
from tests.security.test_attacks import post, spec_for, still_healthy  # noqa: F401  (still_healthy: autouse)

pytestmark = pytest.mark.slow

SECRETS = ("bob_secret_column", "BOB-SECRET-VALUE", "BOB-SECRET-LABEL", "bob-private-data", "bob-ledger")
DENIED = "outside your data prefixes"
ONE_GB = 1 << 30


@pytest.fixture(scope="module")
def places(tmp_path_factory, charges_path):
    """(alice's prefix, bob's directory): bob's ledger has none of alice's columns but a label of its own, so a
    trainer that read it would name its columns and values in its error."""
    alice = tmp_path_factory.mktemp("alice-data")
    bob = tmp_path_factory.mktemp("bob-private-data")
    pq.write_table(pa.table({"bob_secret_column": ["BOB-SECRET-VALUE"] * 50,
                             "has_fraud_dispute": ["BOB-SECRET-LABEL"] * 50}), bob / "bob-ledger.parquet")
    shutil.copy(charges_path, alice / "charges.parquet")
    return alice, bob


@pytest.fixture(scope="module")
def service(tmp_path_factory, places, fraud_pex):
    alice, _ = places
    workdir = tmp_path_factory.mktemp("at-open")
    tokens = workdir / "tokens.yaml"
    tokens.write_text(tokens_yaml(alice))
    service = Service(workdir / "svc", args=("--auth-tokens", str(tokens), "--concurrency", "CPU=1")).start()
    with open(fraud_pex, "rb") as f:
        published = httpx.post(f"{service.url}/binaries", content=f, headers=CI, timeout=600)
    assert published.status_code in (200, 201), published.text
    yield service
    service.stop()


def submit(service, spec: dict) -> str:
    response = post(service, "/train", {"spec": spec, "binary": "fraud_train"}, ALICE)
    assert response.status_code == 202, response.text
    return response.json()["job_id"]


def own_copy(places, name: str) -> Path:
    alice, _ = places
    path = alice / name
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(alice / "charges.parquet", path)
    return path


def link_to_bob(path: Path, places, directory: bool = False) -> None:
    _, bob = places
    if path.exists() or path.is_symlink():
        path.unlink()
    path.symlink_to(bob if directory else bob / "bob-ledger.parquet", target_is_directory=directory)


def readable(service, job_id: str) -> str:
    """Everything alice can read about a job: status, result, log, its page, the job list and the dashboard."""
    texts = [httpx.get(f"{service.url}{path}", headers=ALICE, timeout=60).text
             for path in (f"/job/{job_id}/status", f"/job/{job_id}/result", f"/job/{job_id}/logs",
                          f"/ui/job/{job_id}", "/jobs", "/")]
    return "\n".join(texts)


def assert_refused_without_a_trace(service, job_id: str, path: Path) -> None:
    status = service.wait_for(job_id, ("complete", "failed", "cancelled"), timeout=600, headers=ALICE)
    assert status["job_state"] == "failed" and status["reason"] == "DataAccessDenied", status
    assert re.fullmatch(rf"data(\.features\[0\]\.path)?: {re.escape(str(path))}\S* is {DENIED} \(allowed: \S+\)",
                        status["message"]), status["message"]
    seen = readable(service, job_id)
    for secret in SECRETS:
        assert secret not in seen, secret


@pytest.fixture(scope="module")
def trained(service, places) -> str:
    """A complete training job of alice's team, whose model the explanation attack explains."""
    alice, _ = places
    spec = spec_for(alice / "charges.parquet")
    spec["train"]["custom_params"]["n_estimators"] = 10
    job_id = submit(service, spec)
    assert service.wait_for(job_id, ("complete", "failed"), timeout=600, headers=ALICE)["job_state"] == "complete"
    return job_id


@pytest.fixture(scope="module")
def swapped_after_202(service, places, trained):
    """Every job attack: submitted behind a job holding the only CPU slot, swapped after its 202, then let run."""
    alice, _ = places
    blocker = spec_for(alice / "charges.parquet")
    blocker["train"]["custom_params"]["n_estimators"] = 10_000_000
    blocking = submit(service, blocker)
    service.wait_for(blocking, ("running",), timeout=120, headers=ALICE)

    attacks = {
        "single file": own_copy(places, "single.parquet"),
        "file in a directory": own_copy(places, "directory/part-1.parquet"),
        "hive partition folder": alice / "hive" / "charge_region=zz",
        "missing at submit": alice / "later.parquet",
    }
    own_copy(places, "directory/part-0.parquet")
    own_copy(places, "hive/charge_region=us/part-0.parquet")
    named = {"single file": attacks["single file"], "file in a directory": alice / "directory",
             "hive partition folder": alice / "hive", "missing at submit": attacks["missing at submit"]}
    jobs = {what: submit(service, spec_for(path)) for what, path in named.items()}
    explained = own_copy(places, "explain.parquet")
    response = post(service, "/explain", {"training_job_id": trained, "data": str(explained)}, ALICE)
    assert response.status_code == 202, response.text
    jobs["explanation"], attacks["explanation"] = response.json()["job_id"], explained
    for what in jobs:
        assert httpx.get(f"{service.url}/job/{jobs[what]}/status", headers=ALICE).json()["job_state"] == "queued"

    for what, path in attacks.items():
        link_to_bob(path, places, directory=what == "hive partition folder")
    assert httpx.post(f"{service.url}/job/{blocking}/cancel", headers=ALICE).status_code == 200
    return jobs, attacks


@pytest.mark.parametrize("what", ["single file", "file in a directory", "hive partition folder", "missing at submit",
                                  "explanation"])
def test_a_link_swapped_in_after_the_202_is_refused_at_open(service, swapped_after_202, what):
    jobs, attacks = swapped_after_202
    assert_refused_without_a_trace(service, jobs[what], attacks[what])


def plan_processes(service) -> list[int]:
    """The service's trainer subprocesses planning a spec (`--plan`), by process id."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                arguments = f.read().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        if parent == service.process.pid and b"--plan" in arguments:
            found.append(int(entry))
    return found


def test_validate_refuses_a_link_swapped_in_after_the_check(service, places):
    """The plan's process is held as soon as it exists (so the check at submit has passed), the file is swapped,
    and the plan goes on: it opens bob's file through the link, and must refuse it."""
    from concurrent.futures import ThreadPoolExecutor

    target = own_copy(places, "validated.parquet")
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(post, service, "/validate", {"spec": spec_for(target), "binary": "fraud_train"}, ALICE)
        deadline = time.monotonic() + 60
        while not (planning := plan_processes(service)) and time.monotonic() < deadline:
            time.sleep(0.002)
        assert planning, "no plan process started"
        os.killpg(planning[0], signal.SIGSTOP)
        try:
            link_to_bob(target, places)
        finally:
            os.killpg(planning[0], signal.SIGCONT)
        response = answer.result(timeout=300)
    assert response.status_code == 403, response.text
    assert response.json()["detail"] == (f"data.features[0].path: {target} is {DENIED} "
                                         f"(allowed: {places[0].resolve()}/)")
    for secret in SECRETS:
        assert secret not in response.text


def test_the_service_never_parses_a_huge_parquet_footer(service, places):
    """A file of alice's own whose footer holds ~540 MB of schema metadata: the job is dispatched and ends (the
    trainer may well fail on it), and the service's peak resident memory stays under 1 GB."""
    alice, _ = places
    huge = alice / "huge-footer.parquet"
    table = pq.read_table(alice / "charges.parquet").slice(0, 100)
    with pq.ParquetWriter(huge, table.schema, store_schema=False) as writer:
        writer.write_table(table)
        chunk = b"m" * (90 << 20)  # each value under Arrow's 100 MB limit on one metadata string
        writer.add_key_value_metadata({f"k{i}": chunk for i in range(6)})
    del chunk
    try:
        assert huge.stat().st_size > 500 << 20
        job_id = submit(service, spec_for(huge))
        status = service.wait_for(job_id, ("complete", "failed"), timeout=600, headers=ALICE)
        assert status["job_state"] in ("complete", "failed")
        peak = service.peak_resident_bytes()
        assert peak < ONE_GB, f"the service's peak resident memory reached {peak / 2**20:.0f} MiB"
    finally:
        huge.unlink(missing_ok=True)


def test_a_completed_job_shows_the_data_fingerprint_its_trainer_took(service, places, trained):
    alice, _ = places
    status = httpx.get(f"{service.url}/job/{trained}/status", headers=ALICE).json()
    [source] = status["data_fingerprint"]
    assert source["path"] == str(alice / "charges.parquet")
    assert source["files"] == [{"path": str(alice / "charges.parquet"), "size": (alice / "charges.parquet").stat().st_size,
                                "mtime": source["files"][0]["mtime"]}]
