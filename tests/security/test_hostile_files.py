"""Black-box attacks through what the service reads and writes: a zip bomb published as a trainer, escapes that a
user's strings carry to another user's terminal, and run outputs that other users of the machine could read.

Each test drives a running `railyard serve --auth-tokens FILE` (the fixtures of test_attacks.py) as an
attacker would, asserts the refusal, and that the service still answers /healthz.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import ALICE, CI
from tests.api.test_cli_client import railyard
from tests.binaries.test_inspect import inflating_pex
from tests.conftest import write_spec
from tests.security.test_attacks import alice_job, post, service, spec_for, still_healthy  # noqa: F401  (fixtures)

pytestmark = pytest.mark.slow

ONE_GB = 10**9
ESCAPES = "\x1b]0;pwned\x07\x1b[2J"  # retitle the terminal, clear the screen


@pytest.mark.parametrize("declared", [None, 200], ids=["declared-honestly", "declared-200-bytes"])
def test_a_pex_info_that_inflates_to_1_gib_is_refused_within_memory(service, tmp_path, declared):
    bomb = inflating_pex(tmp_path / "bomb.pex", 2**30, declared)
    assert bomb.stat().st_size < 4 * 2**20
    with open(bomb, "rb") as body:
        response = httpx.post(f"{service.url}/binaries", content=body, headers=CI, timeout=600)
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert problem["msg"] == ("not a Railyard trainer pex: its PEX-INFO inflates to more than 1048576 bytes (1 MiB), "
                              "the most read of one member")
    peak = service.peak_resident_bytes()
    assert peak < ONE_GB, f"the service's peak resident memory reached {peak / 2**20:.0f} MiB"
    assert not [b for b in httpx.get(f"{service.url}/binaries", headers=CI).json()["binaries"] if b["sha256"] != service.binary["sha256"]]


def shows_no_controls(text: str) -> bool:
    return not any(c in "\x1b\x07" or "\x80" <= c <= "\x9f" for c in text)


def test_the_cli_prints_no_escapes_from_names_or_logs(service, charges_path, tmp_path):
    named = spec_for(charges_path)
    named["metadata"]["model_name"] = f"fraud{ESCAPES} model"
    refused = post(service, "/train", {"spec": named, "binary": "fraud_train"}, ALICE)
    assert refused.status_code == 422
    assert [p["loc"] for p in refused.json()["detail"]] == [["body", "spec", "metadata", "model_name"]]
    assert "control character U+001B" in refused.json()["detail"][0]["msg"]

    spec = spec_for(charges_path)
    spec["train"]["custom_params"] = {"n_estimators": 5, f"note{ESCAPES}": 1}  # XGBoost logs unknown parameters as given
    response = post(service, "/train", {"spec": spec, "binary": "fraud_train"}, ALICE)
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    assert service.wait_for(job_id, ("complete", "failed"), timeout=600, headers=ALICE)["job_state"] == "complete"
    assert ESCAPES in httpx.get(f"{service.url}/job/{job_id}/logs", headers=ALICE).text
    with sqlite3.connect(service.db, timeout=30) as db:  # a job stored before names were checked
        db.execute("UPDATE jobs SET model_name = ? WHERE id = ?", (f"fraud{ESCAPES} model", job_id))

    spec["train"]["custom_params"] = {"n_estimators": 5, f"note{ESCAPES}": f"2{ESCAPES}"}  # a column of `railyard jobs`
    assert post(service, "/train", {"spec": spec, "binary": "fraud_train"}, ALICE).status_code == 202

    answers = {command: railyard(service, *command.split(), job_id) for command in ("status", "result", "logs")}
    answers["jobs"] = railyard(service, "jobs", "--owner", "fraud-team")
    assert len(answers["jobs"].stdout.splitlines()) == 3  # the heading and two runs: no line broken by a name
    answers["submit"] = railyard(service, "submit", str(write_spec(tmp_path, named)), "--binary", "fraud_train")
    for command, answer in answers.items():
        assert shows_no_controls(answer.stdout + answer.stderr), f"railyard {command} printed a control character"
    assert "fraud model" in answers["status"].stdout and "fraud model" in answers["jobs"].stdout
    assert 'Parameters: { "note" } are not used.' in answers["logs"].stdout
    assert answers["submit"].returncode == 2 and "metadata.model_name: holds the control character U+001B" in answers["submit"].stderr


def exposed(root: Path) -> list[str]:
    """Everything under `root`, itself included, that the group or others may read, write or enter."""
    paths = [root, *root.rglob("*")]
    return [f"{path} {stat.filemode(path.lstat().st_mode)}" for path in paths
            if not path.is_symlink() and path.lstat().st_mode & 0o077]


def test_a_jobs_files_are_the_services_users_alone(service, alice_job):
    job_dir, output = service.workdir / "jobs" / alice_job, service.workdir / "runs" / alice_job
    assert {"spec.json", "request.json", "state.json", "trainer.log", "supervisor.log"} <= {p.name for p in job_dir.iterdir()}
    assert {"result.json", "scores.tsv", "labels.tsv", "report.html", "model"} <= {p.name for p in output.iterdir()}
    assert exposed(job_dir) == [] and exposed(output) == []
    assert exposed(job_dir.parent) == [] and exposed(output.parent) == []  # every job of the service, their roots included
    database = Path(service.db)
    for path in (database, database.with_name(database.name + "-wal")):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert os.access(job_dir / "trainer.log", os.R_OK)  # the service's user still reads what it shows
