"""Shared fixtures: small sample datasets, spec builders, and running the trainer."""

from __future__ import annotations

import copy
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from workflows.data import charges

REPO = Path(__file__).resolve().parent.parent
# No test may ask a cloud metadata service for credentials.
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
# Example specs that train on the sample charges, and the others (text, time series).
SPECS = {name: REPO / "workflows" / name / "spec.json" for name in ("fraud", "logreg", "mlp")}
OTHER_SPECS = {name: REPO / "workflows" / name / "spec.json" for name in ("fasttext", "prophet")}


@pytest.fixture(scope="session")
def charges_path(tmp_path_factory) -> Path:
    """20,000 sample charges in one parquet file, row groups of 1,000 rows sorted by created_at."""
    return charges.write(20_000, tmp_path_factory.mktemp("data") / "charges.parquet", row_group_rows=1_000)


@pytest.fixture(scope="session")
def partitioned_charges_path(tmp_path_factory) -> Path:
    return charges.write(20_000, tmp_path_factory.mktemp("data") / "charges", partitioned=True)


@pytest.fixture(scope="session")
def small_pex(tmp_path_factory) -> Path:
    """A genuine trainer pex of the sources alone (it cannot train): for tests that publish and submit."""
    from tests.trainer_pex import build_small_trainer

    return build_small_trainer(tmp_path_factory.mktemp("pex") / "small_train.pex")


@pytest.fixture(scope="session")
def fraud_pex() -> Path:
    """The Bazel-built fraud trainer: for tests that run a published binary."""
    from tests.trainer_pex import build_fraud_trainer

    return build_fraud_trainer()


def example_spec(name: str, data_path: Path | str, **overrides) -> dict:
    """The example spec `name` pointed at `data_path`, with top-level keys replaced by overrides."""
    spec = json.loads({**SPECS, **OTHER_SPECS}[name].read_text())
    for source in spec["data"]["features"]:
        source["path"] = str(data_path)
    spec.update(copy.deepcopy(overrides))
    return spec


def write_spec(tmp_path: Path, spec: dict, name: str = "spec.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(spec))
    return path


def run_trainer(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the trainer command in a fresh process, as a launcher would."""
    return subprocess.run(
        [sys.executable, "-m", "railyard.trainer", *map(str, args)],
        cwd=cwd or REPO,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def read_result(output: Path) -> dict:
    return json.loads((output / "result.json").read_text())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3_env():
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    env = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "railyard-test",
        "AWS_SECRET_ACCESS_KEY": "railyard-test-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    yield env
    server.stop()


@pytest.fixture
def aws(s3_env, monkeypatch):
    for key, value in s3_env.items():
        monkeypatch.setenv(key, value)
    client = boto3.client("s3")
    client.create_bucket(Bucket="ml-data")
    yield client
