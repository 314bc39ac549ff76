"""Fixtures for the API tests: the app on SQLite and on a real PostgreSQL the tests start themselves."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from railyard.api.app import create_app
from railyard.api.settings import Settings
from tests.conftest import free_port


def _postgres_binaries() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return os.path.dirname(found[-1]) if found else None


@pytest.fixture(scope="session")
def postgres_server():
    """A PostgreSQL server of our own on a free loopback port; `make test` installs PostgreSQL if missing."""
    bin_dir = _postgres_binaries()
    if bin_dir is None:
        if os.environ.get("RAILYARD_REQUIRE_POSTGRES"):
            pytest.fail("PostgreSQL is not installed; `make test` installs Debian's postgresql package")
        pytest.skip("PostgreSQL is not installed (make test installs it)")
    data = Path(tempfile.mkdtemp(prefix="railyard-postgres-"))  # outside pytest's root-only folders
    run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []  # PostgreSQL refuses to run as root
    if run_as:
        shutil.chown(data, "postgres")
    port = free_port()
    subprocess.run(run_as + [f"{bin_dir}/initdb", "-D", str(data / "db"), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
                   check=True, capture_output=True)
    subprocess.run(run_as + [f"{bin_dir}/pg_ctl", "-D", str(data / "db"), "-w", "-l", str(data / "log"),
                             "-o", f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off", "start"],
                   check=True, capture_output=True)
    yield {"port": port, "bin": bin_dir}
    subprocess.run(run_as + [f"{bin_dir}/pg_ctl", "-D", str(data / "db"), "-m", "immediate", "stop"], capture_output=True)
    shutil.rmtree(data, ignore_errors=True)


def postgres_database(server: dict) -> str:
    name = f"railyard_{uuid.uuid4().hex[:10]}"
    subprocess.run([f"{server['bin']}/createdb", "-h", "127.0.0.1", "-p", str(server["port"]), "-U", "postgres", name],
                   check=True, capture_output=True)
    return f"postgresql://postgres@127.0.0.1:{server['port']}/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "railyard.db")
    return postgres_database(request.getfixturevalue("postgres_server"))


def settings_for(tmp_path, db: str, **overrides) -> Settings:
    return Settings(db=db, artifacts=str(tmp_path / "runs"), jobs_dir=str(tmp_path / "jobs"), binaries_dir=str(tmp_path / "binaries"),
                    pex_root=str(tmp_path.parent / "pex-root"), poll_seconds=0.2, **overrides)


@pytest.fixture
def app_factory(tmp_path, db_url):
    clients = []

    def make(**overrides) -> TestClient:
        client = TestClient(create_app(settings_for(tmp_path, db_url, **overrides)), base_url="http://127.0.0.1")
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def tokens_yaml(data_dir: Path | str) -> str:
    """Alice (team fraud-team, reads data_dir), Bob (no data), CI (publishes), an admin: bob's and the admin's tokens hashed."""
    from railyard.api.auth import token_hash

    return (
        f"alice-token-0123456789: {{owner: alice, teams: [fraud-team], data_prefixes: [{str(data_dir)!r}]}}\n"
        f"{token_hash('bob-token-000123456789')!r}: {{owner: bob, teams: []}}\n"
        "ci-token-0123456789abcd: {owner: ci, publish: true}\n"
        f"{token_hash('root-token-0123456789')!r}: {{owner: root, admin: true}}\n"
    )


@pytest.fixture
def tokens_file(tmp_path, charges_path):
    path = tmp_path / "tokens.yaml"
    path.write_text(tokens_yaml(charges_path.parent))
    return str(path)


ALICE = {"Authorization": "Bearer alice-token-0123456789"}
BOB = {"Authorization": "Bearer bob-token-000123456789"}
CI = {"Authorization": "Bearer ci-token-0123456789abcd"}
ADMIN = {"Authorization": "Bearer root-token-0123456789"}


def publish(client, pex: Path, headers: dict | None = None) -> dict:
    """Publish a trainer pex through POST /binaries, as `railyard publish` does."""
    response = client.post("/binaries", content=pex.read_bytes(), headers={"Content-Type": "application/octet-stream", **(headers or {})})
    assert response.status_code in (200, 201), response.text
    return response.json()
