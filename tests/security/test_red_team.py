"""Black-box attacks found after the trust work: each drives a running `railyard serve --auth-tokens FILE` as a
hostile or careless user would, asserts the refusal, and that the service still answers /healthz.

Alice (team fraud-team) reads the sample data's directory; bob's team keeps its data in a directory beside it.
"""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest

from tests.api.conftest import ALICE, CI, tokens_yaml
from tests.api.service import Service
from tests.conftest import example_spec
from tests.security.test_service_layers import ALICE_TOKEN, _answer, service, signed_in, still_healthy  # noqa: F401

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tmp_path_factory, charges_path, fraud_pex):
    """A service that runs the Bazel-built fraud trainer; bob's hive dataset, outside alice's prefix, has `region=EU`."""
    workdir = tmp_path_factory.mktemp("red-team")
    (charges_path.parent.parent / "bob-red-team" / "hive" / "region=EU").mkdir(parents=True, exist_ok=True)
    tokens = workdir / "tokens.yaml"
    tokens.write_text(tokens_yaml(charges_path.parent))
    service = Service(workdir / "svc", args=("--auth-tokens", str(tokens), "--no-dispatch")).start()
    with open(fraud_pex, "rb") as f:
        httpx.post(f"{service.url}/binaries", content=f, headers=CI, timeout=600).raise_for_status()
    yield service
    service.stop()


def spec_reading(path) -> dict:
    spec = example_spec("fraud", path)
    spec["metadata"]["owner"] = "fraud-team"
    return spec


def test_climbing_through_another_teams_folder_does_not_tell_whether_it_exists(trained, charges_path):
    hive = charges_path.parent.parent / "bob-red-team" / "hive"
    answers = []
    for partition in ("region=EU", "region=NOWHERE"):
        path = f"{hive}/{partition}/../../../{charges_path.parent.name}/{charges_path.name}"
        response = httpx.post(f"{trained.url}/validate", json={"spec": spec_reading(path), "binary": "fraud_train"},
                              headers=ALICE, timeout=600)
        answers.append((response.status_code, response.text))
    assert answers[0] == answers[1] and answers[0][0] == 200
    assert trained.alive()


def test_a_signed_in_form_to_binaries_is_refused_before_it_is_read(service):
    cookie = signed_in(service).cookies["railyard_session"]
    connection = socket.create_connection(("127.0.0.1", service.port))
    connection.sendall(f"POST /binaries HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: railyard_session={cookie}\r\n"
                       f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {2 << 30}\r\n\r\n".encode()
                       + b"a" * 65536)
    answer = _answer(connection, 10)
    assert answer.startswith(b"HTTP/1.1 413") and b"at most 1048576 bytes" in answer


def test_a_publish_that_stalls_is_408_and_leaves_no_part_behind(service):
    connection = socket.create_connection(("127.0.0.1", service.port))
    connection.sendall(f"POST /binaries HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {CI['Authorization']}\r\n"
                       "Content-Type: application/octet-stream\r\nContent-Length: 10000000\r\n\r\n".encode()
                       + b"#!/usr/bin/env python3\n" + b"x" * 100_000)
    answer = _answer(connection, 15)  # the service's --body-seconds is 2
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert list(service.workdir.rglob("*.part")) == []
    assert b"Traceback" not in (service.workdir / "service.log").read_bytes()


@pytest.mark.parametrize("route", ["/validate", "/train", "/train?dry_run=true"])
def test_half_a_surrogate_pair_in_a_spec_is_422_naming_the_field(service, charges_path, route):
    body = json.dumps({"spec": spec_reading(charges_path), "binary": "small_train"})
    body = body.replace('"project": "', '"project": "\\ud800', 1)
    response = httpx.post(f"{service.url}{route}", content=body, headers={"Content-Type": "application/json", **ALICE})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["msg"].startswith("metadata.project: holds U+D800")


def test_a_token_removed_while_the_service_was_stopped_does_not_revive_its_sessions(tmp_path, charges_path):
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(tokens_yaml(charges_path.parent))
    args = ("--auth-tokens", str(tokens), "--no-dispatch")
    first = Service(tmp_path / "svc", args=args).start()
    try:
        cookie = signed_in(first).cookies["railyard_session"]
    finally:
        first.stop()
    with_alice = tokens.read_text()
    tokens.write_text("".join(line for line in with_alice.splitlines(keepends=True) if not line.startswith("alice")))
    second = Service(tmp_path / "svc", args=args).start()
    try:
        tokens.write_text(with_alice)  # back before anyone presented the cookie
        deadline = time.monotonic() + 10
        while httpx.get(f"{second.url}/jobs", headers=ALICE).status_code != 200:  # until the file is read again
            assert time.monotonic() < deadline, "alice's token never came back"
            time.sleep(0.2)
        assert httpx.get(f"{second.url}/jobs", headers={"Cookie": f"railyard_session={cookie}"}).status_code == 401
        assert second.alive()
    finally:
        second.stop()
