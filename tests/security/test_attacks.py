"""Black-box attacks on a running `railyard serve --auth-tokens FILE`, one test per attack.

Each test drives the service over HTTP as a hostile or careless user would,
asserts the refusal, and asserts that the service still answers /healthz.
Alice (team fraud-team) may read the sample data directory; Bob has no data
prefixes; CI publishes the Bazel-built fraud trainer.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from railyard.launch.job import LOG_PAGE_BYTES
from tests.api.conftest import ALICE, BOB, CI, tokens_yaml
from tests.api.service import Service
from tests.conftest import REPO, example_spec

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def service(tmp_path_factory, charges_path, fraud_pex):
    workdir = tmp_path_factory.mktemp("secure")
    tokens = workdir / "tokens.yaml"
    tokens.write_text(tokens_yaml(charges_path.parent))
    service = Service(workdir / "svc", args=("--auth-tokens", str(tokens))).start()
    service.tokens = tokens
    with open(fraud_pex, "rb") as f:
        published = httpx.post(f"{service.url}/binaries", content=f, headers=CI, timeout=600)
    assert published.status_code in (200, 201), published.text
    service.binary = published.json()
    yield service
    service.stop()


@pytest.fixture(scope="module")
def alice_job(service, charges_path) -> str:
    """A complete job of alice's team."""
    spec = spec_for(charges_path)
    spec["train"]["custom_params"]["n_estimators"] = 10
    response = httpx.post(f"{service.url}/train", json={"spec": spec, "binary": "fraud_train"}, headers=ALICE)
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    assert service.wait_for(job_id, ("complete", "failed"), timeout=600, headers=ALICE)["job_state"] == "complete"
    return job_id


def spec_for(path, owner: str = "fraud-team", **overrides) -> dict:
    spec = example_spec("fraud", path, **overrides)
    spec["metadata"]["owner"] = owner
    return spec


def post(service, path: str, body: dict, headers: dict | None) -> httpx.Response:
    return httpx.post(f"{service.url}{path}", json=body, headers=headers, timeout=600)


def detail(response: httpx.Response) -> str:
    return json.dumps(response.json())


@pytest.fixture(autouse=True)
def still_healthy(request):
    yield
    if "service" in request.fixturenames:
        assert request.getfixturevalue("service").alive(), "the service stopped answering /healthz"


@pytest.mark.parametrize("binary", ["/bin/echo", "/bin/sh", "dev", "//workflows:fraud_train", "../../bin/echo"])
def test_a_binary_path_is_never_run(service, charges_path, binary):
    for path in ("/train", "/validate"):
        response = post(service, path, {"spec": spec_for(charges_path), "binary": binary}, ALICE)
        assert response.status_code == 422
        assert "NAME@sha256:HEX" in detail(response)


def test_a_file_the_user_wrote_is_not_run(service, charges_path, tmp_path):
    # Like a labels.tsv an earlier job wrote, whose header is a column name the user chose.
    marker = tmp_path / "ran"
    planted = charges_path.parent / "labels.tsv"
    planted.write_text(f"import pathlib; pathlib.Path({str(marker)!r}).write_text('pwned')\n")
    for path in ("/train", "/validate"):
        response = post(service, path, {"spec": spec_for(charges_path), "binary": str(planted)}, ALICE)
        assert response.status_code == 422
    assert not marker.exists()


def test_the_tokens_file_is_not_read_through_a_binary(service, charges_path):
    secret = service.tokens.read_text()
    for path in ("/train", "/validate"):
        response = post(service, path, {"spec": spec_for(charges_path), "binary": str(service.tokens)}, ALICE)
        assert response.status_code == 422
        assert "alice-token" not in response.text and secret not in response.text


@pytest.mark.parametrize("module", ["os", "tests.outside.team_models", "subprocess", "railyard.trainer.x"])
def test_workflow_modules_only_from_inside_the_binary(service, charges_path, module):
    body = {"spec": spec_for(charges_path), "binary": "fraud_train", "workflow_modules": [module]}
    for path in ("/train", "/validate"):
        response = post(service, path, body, ALICE)
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "workflow_modules", 0]


def test_validate_needs_a_token(service, charges_path):
    for headers in (None, {"Authorization": "Bearer not-a-real-token-000"}):
        response = post(service, "/validate", {"spec": spec_for(charges_path), "binary": "fraud_train"}, headers)
        assert response.status_code == 401
        assert "columns" not in response.text and "amount" not in response.text


def test_validate_of_own_data_runs_in_the_published_binary(service, charges_path):
    response = post(service, "/validate", {"spec": spec_for(charges_path), "binary": "fraud_train"}, ALICE)
    assert response.status_code == 200, response.text
    assert response.json()["rows_in"] == 20_000


def test_no_column_or_existence_leak_outside_the_prefixes(service, charges_path, tmp_path):
    secret = tmp_path / "secret.parquet"
    secret.write_bytes(charges_path.read_bytes())
    missing = tmp_path / "missing.parquet"
    answers = []
    for who, owner in ((ALICE, "fraud-team"), (BOB, "bob")):
        for target in (secret, missing):
            response = post(service, "/validate", {"spec": spec_for(target, owner), "binary": "fraud_train"}, who)
            assert response.status_code == 403
            assert "amount" not in response.text and "does not exist" not in response.text and "No such file" not in response.text
            answers.append(response.json()["detail"].replace(str(target), "PATH"))
    assert answers[0] == answers[1] and answers[2] == answers[3]  # exists or not: the same answer
    # Bob has no prefixes at all: not even alice's data.
    response = post(service, "/validate", {"spec": spec_for(charges_path, "bob"), "binary": "fraud_train"}, BOB)
    assert response.status_code == 403 and "allowed: none" in response.text


def test_thousands_of_filters_are_refused_not_a_crash(service, charges_path):
    spec = spec_for(charges_path)
    spec["filters"] = [{"feature_name": "amount", "predicate": "IsNotNull"}] * 12_000
    response = post(service, "/validate", {"spec": spec, "binary": "fraud_train"}, ALICE)
    assert response.status_code == 422
    assert "256" in detail(response)


def test_a_huge_filter_value_list_is_refused(service, charges_path):
    spec = spec_for(charges_path)
    spec["filters"] = [{"feature_name": "merchant_country", "predicate": "IsIn", "feature_value": {"string_vals": ["x"] * 100_001}}]
    response = httpx.post(f"{service.url}/validate", json={"spec": spec, "binary": "fraud_train"}, headers=ALICE, timeout=600)
    assert response.status_code in (413, 422)


def test_another_owners_job_is_not_there(service, alice_job):
    for verb in ("status", "result", "logs"):
        response = httpx.get(f"{service.url}/job/{alice_job}/{verb}", headers=BOB)
        assert response.status_code == 404 and response.json()["detail"] == f"no job {alice_job}"
        assert httpx.get(f"{service.url}/job/{alice_job}/{verb}", headers=ALICE).status_code == 200
    for verb in ("cancel", "ship", "unship"):
        assert httpx.post(f"{service.url}/job/{alice_job}/{verb}", headers=BOB).status_code == 404
    assert httpx.get(f"{service.url}/job/{alice_job}/status").status_code == 401


def test_job_list_and_dashboard_are_scoped(service, alice_job):
    assert alice_job not in httpx.get(f"{service.url}/jobs", headers=BOB).text
    assert alice_job not in httpx.get(f"{service.url}/jobs", params={"owner": "fraud-team"}, headers=BOB).text
    assert alice_job in httpx.get(f"{service.url}/jobs", headers=ALICE).text
    assert alice_job not in httpx.get(f"{service.url}/", headers=BOB).text
    assert alice_job in httpx.get(f"{service.url}/", headers=ALICE).text
    assert httpx.get(f"{service.url}/ui/job/{alice_job}", headers=BOB).status_code == 404
    assert httpx.get(f"{service.url}/", follow_redirects=False).headers["location"] == "/signin?next=/"
    assert httpx.get(f"{service.url}/metrics").status_code == 401


def test_data_outside_the_prefixes_by_dots_symlink_or_file_uri(service, charges_path, tmp_path):
    outside = tmp_path / "outside.parquet"
    outside.write_bytes(charges_path.read_bytes())
    link = charges_path.parent / "innocent-looking.parquet"
    link.unlink(missing_ok=True)
    link.symlink_to(outside)
    climbing = f"{charges_path.parent}/../{outside.parent.name}/{outside.name}"
    for path in (climbing, str(link), f"file://{outside}", f"file://{charges_path.parent}/../x.parquet", "s3://other-bucket/x.parquet"):
        for route in ("/validate", "/train", "/train?dry_run=true"):
            response = post(service, route, {"spec": spec_for(path), "binary": "fraud_train"}, ALICE)
            assert response.status_code == 403, (path, route, response.text)
            assert "outside your data prefixes" in response.json()["detail"]


def test_an_oversize_log_is_read_a_page_at_a_time(service, alice_job):
    log = service.workdir / "jobs" / alice_job / "trainer.log"
    with open(log, "ab") as f:
        f.write(b"x" * (64 << 20))  # what a job that logs in a loop leaves behind
    response = httpx.get(f"{service.url}/job/{alice_job}/logs", headers=ALICE, timeout=60)
    assert response.status_code == 200 and len(response.content) <= LOG_PAGE_BYTES
    following = int(response.headers["X-Log-Offset"])
    assert following == len(response.content)
    nxt = httpx.get(f"{service.url}/job/{alice_job}/logs", params={"offset": following, "limit": 10}, headers=ALICE)
    assert nxt.content == b"x" * 10 and nxt.headers["X-Log-Offset"] == str(following + 10)
    assert httpx.get(f"{service.url}/job/{alice_job}/logs", params={"limit": 10**9}, headers=ALICE).status_code == 422


def test_cookie_sessions_need_csrf_and_never_hold_the_token(service, alice_job):
    browser = httpx.Client(base_url=service.url, follow_redirects=False)
    signed_in = browser.post("/signin", data={"token": "alice-token-0123456789", "next": "//evil.example/"})
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/"
    cookie = signed_in.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict") and "alice-token" not in cookie
    page = browser.get(f"/ui/job/{alice_job}")
    assert page.status_code == 200 and "csrf_token" in page.text
    assert browser.post(f"/job/{alice_job}/ship").status_code == 403  # a cross-site form post carries no CSRF token
    assert browser.post(f"/ui/job/{alice_job}/ship", data={"csrf_token": "guess"}).status_code == 403
    csrf = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    assert browser.post(f"/ui/job/{alice_job}/ship", data={"csrf_token": csrf}).status_code == 303
    assert httpx.get(f"{service.url}/job/{alice_job}/status", headers=ALICE).json()["shipped"] is True
    assert browser.post("/signout", data={"csrf_token": csrf}).status_code == 303
    assert browser.get(f"/ui/job/{alice_job}").status_code == 303  # the session is gone: sign in again
    assert browser.post("/signin", data={"token": "bob-token-0001234567-wrong"}).headers["location"].startswith("/signin?failed=true")


def test_a_model_is_loaded_only_against_a_trusted_id(service, alice_job, charges_path, tmp_path):
    result = httpx.get(f"{service.url}/job/{alice_job}/result", headers=ALICE).json()["result"]
    renamed = tmp_path / "model.zip"
    renamed.write_bytes(Path(result["model_path"]).read_bytes())
    predict = [sys.executable, "-m", "railyard.cli", "predict", "--data", str(charges_path), "--output", str(tmp_path / "scores.parquet")]
    refused = subprocess.run(predict + ["--model", str(renamed)], cwd=REPO, capture_output=True, text=True, env=os.environ)
    assert refused.returncode != 0 and "model id" in refused.stderr
    accepted = subprocess.run(predict + ["--model", str(renamed), "--model-id", result["model_id"]], cwd=REPO,
                              capture_output=True, text=True, env=os.environ)
    assert accepted.returncode == 0, accepted.stderr
    tampered = tmp_path / result["model_id"]
    data = bytearray(renamed.read_bytes())
    data[-30] ^= 1
    tampered.write_bytes(bytes(data))
    forged = subprocess.run(predict + ["--model", str(tampered)], cwd=REPO, capture_output=True, text=True, env=os.environ)
    assert forged.returncode != 0 and "tampered" in forged.stderr


def test_a_path_with_a_scheme_inside_is_still_a_local_path(service, charges_path, tmp_path):
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / "secret.parquet").write_bytes(charges_path.read_bytes())
    link = charges_path.parent / "exports:"
    link.unlink(missing_ok=True)
    link.symlink_to(tmp_path / "secret")
    for path in (f"{charges_path.parent}/exports://secret.parquet", f"{charges_path.parent}/exports:///secret.parquet"):
        response = post(service, "/validate", {"spec": spec_for(path), "binary": "fraud_train"}, ALICE)
        assert response.status_code == 403, response.text
    for path in ("relative/charges.parquet", f"{charges_path.parent}/\x00/x", "ftp://host/x.parquet"):
        response = post(service, "/validate", {"spec": spec_for(path), "binary": "fraud_train"}, ALICE)
        assert response.status_code == 422, response.text


def test_parallel_cancels_and_validations_do_not_stall_the_service(service, alice_job, charges_path):
    from concurrent.futures import ThreadPoolExecutor

    def cancel(_):
        return httpx.post(f"{service.url}/job/{alice_job}/cancel", headers=ALICE, timeout=300).status_code

    def validate(_):
        return post(service, "/validate", {"spec": spec_for(charges_path), "binary": "fraud_train"}, ALICE).status_code

    with ThreadPoolExecutor(40) as pool:
        cancels = pool.map(cancel, range(30))
        validations = pool.map(validate, range(10))
        # Before the fix these waited on an exhausted connection pool and ended in 500s after minutes.
        health = httpx.get(f"{service.url}/healthz", timeout=90)
        listing = httpx.get(f"{service.url}/jobs", headers=BOB, timeout=90)
        cancels, validations = list(cancels), list(validations)
    assert health.status_code == 200 and listing.status_code == 200
    assert set(cancels) == {200}
    assert set(validations) <= {200, 429, 503} and 200 in validations


def test_malformed_queries_and_forms_are_4xx(service, alice_job):
    import base64

    for cursor in (b'["2020-01-01", null]', b'["2020-01-01", {"a": 1}]', b'["9999-12-31T23:59:59-14:00", "z"]'):
        encoded = base64.urlsafe_b64encode(cursor).decode().rstrip("=")
        assert httpx.get(f"{service.url}/jobs", params={"cursor": encoded}, headers=ALICE).status_code == 422
    assert httpx.get(f"{service.url}/jobs", params={"created_after": "9999-12-31T23:59:59-14:00"}, headers=ALICE).status_code == 422
    for offset in (2**63 - 1, 2**63, 10**30):
        assert httpx.get(f"{service.url}/job/{alice_job}/logs", params={"offset": offset}, headers=ALICE).status_code == 422
    form = "token=x&" + "&".join(f"f{i}=1" for i in range(40))
    response = httpx.post(f"{service.url}/signin", content=form, headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 400
    chunked = httpx.post(f"{service.url}/train", content=iter([b'{"a":"', *[b"x" * 65536] * 40, b'"}']),
                         headers={"content-type": "application/json", **ALICE})
    assert chunked.status_code == 413
    assert httpx.post(f"{service.url}/signin", data={"token": "alice-token-0123456789"},
                      headers={"Origin": "https://evil.example"}).status_code == 403
    for path in ("/openapi.json", "/docs", "/redoc"):
        assert httpx.get(f"{service.url}{path}").status_code in (303, 401, 404)
