"""Black-box attacks on the layers every request passes before a route: headers, hosts, authentication, bodies.

Each test drives a running `railyard serve` over HTTP (or raw sockets, or
Chromium) as an attacker would, asserts the refusal and that the service still
answers /healthz.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tests.api.conftest import ALICE, CI, tokens_yaml
from tests.api.service import Service
from tests.api.test_dashboard import browser  # noqa: F401  (the Chromium fixture)
from tests.conftest import example_spec

pytestmark = pytest.mark.slow
ALICE_TOKEN = "alice-token-0123456789"


@pytest.fixture(scope="module")
def service(tmp_path_factory, charges_path, small_pex):
    workdir = tmp_path_factory.mktemp("layers")
    tokens = workdir / "tokens.yaml"
    tokens.write_text(tokens_yaml(charges_path.parent))
    service = Service(workdir / "svc", args=("--auth-tokens", str(tokens), "--no-dispatch", "--body-seconds", "2")).start()
    service.tokens = tokens
    httpx.post(f"{service.url}/binaries", content=small_pex.read_bytes(), headers=CI, timeout=120).raise_for_status()
    yield service
    service.stop()


@pytest.fixture
def queued_job(service, charges_path) -> str:
    spec = example_spec("fraud", charges_path)
    spec["metadata"]["owner"] = "fraud-team"
    response = httpx.post(f"{service.url}/train", json={"spec": spec, "binary": "small_train"}, headers=ALICE)
    assert response.status_code == 202, response.text
    return response.json()["job_id"]


@pytest.fixture(autouse=True)
def still_healthy(request):
    yield
    for name in ("service", "dev_service"):
        if name in request.fixturenames:
            assert request.getfixturevalue(name).alive(), "the service stopped answering /healthz"


def signed_in(service: Service) -> httpx.Client:
    browser = httpx.Client(base_url=service.url, follow_redirects=False)
    assert browser.post("/signin", data={"token": ALICE_TOKEN}).status_code == 303
    return browser


def test_every_answer_forbids_framing_sniffing_referrers_and_caching(service, queued_job):
    browser = signed_in(service)
    answers = [browser.get(f"/ui/job/{queued_job}"), browser.get("/"), httpx.get(f"{service.url}/job/{queued_job}/status", headers=ALICE),
               httpx.get(f"{service.url}/job/{queued_job}/status"), httpx.get(f"{service.url}/no-such-page", headers=ALICE),
               httpx.get(f"{service.url}/signin")]
    for answer in answers:
        headers = answer.headers
        policy = headers["content-security-policy"]
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy
        assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer" and headers["cache-control"] == "no-store"
    page = answers[0].text
    assert "<script>" not in page and "<style>" not in page and 'style="' not in page  # nothing inline for the policy to block
    assert browser.get("/static/railyard.css").status_code == 200


def test_a_framed_job_page_is_refused_by_the_browser(service, queued_job, browser):  # noqa: F811
    from selenium.webdriver.common.by import By

    # The attacker's page on the same site (another port of the same address) frames the job page.
    attacker_page = f'<html><body><iframe id="victim" src="{service.url}/ui/job/{queued_job}" width="800" height="600"></iframe></body></html>'

    class Attacker(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.end_headers()
            self.wfile.write(attacker_page.encode())

        def log_message(self, *args):
            pass

    attacker = ThreadingHTTPServer(("127.0.0.1", 0), Attacker)
    threading.Thread(target=attacker.serve_forever, daemon=True).start()
    try:
        browser.get(f"{service.url}/signin?next=/ui/job/{queued_job}")
        browser.find_element(By.ID, "token").send_keys(ALICE_TOKEN)
        browser.find_element(By.ID, "signin-button").click()
        time.sleep(1)
        assert browser.find_elements(By.ID, "cancel-button"), (browser.current_url, browser.page_source[:3000])
        browser.get(f"http://127.0.0.1:{attacker.server_address[1]}/")
        time.sleep(2)
        browser.switch_to.frame(browser.find_element(By.ID, "victim"))
        assert not browser.find_elements(By.ID, "cancel-button")  # the browser refused to draw the page in a frame
        browser.switch_to.default_content()
    finally:
        attacker.shutdown()
    status = httpx.get(f"{service.url}/job/{queued_job}/status", headers=ALICE).json()
    assert status["job_state"] == "queued"


def test_a_request_for_another_host_is_refused_before_anything_else(service, charges_path):
    spec = example_spec("fraud", charges_path)
    spec["metadata"]["owner"] = "fraud-team"
    for host in ("evil.example", "evil.example:80", "127.0.0.1.evil.example"):
        response = httpx.post(f"{service.url}/train", json={"spec": spec, "binary": "small_train"},
                              headers={**ALICE, "Host": host, "Origin": f"http://{host}"})
        assert response.status_code == 400, response.text
    assert httpx.get(f"{service.url}/jobs", headers={**ALICE, "Host": "localhost"}).status_code == 200


@pytest.fixture(scope="module")
def dev_service(tmp_path_factory):
    service = Service(tmp_path_factory.mktemp("dev") / "svc", args=("--dev", "--no-dispatch")).start()
    yield service
    service.stop()


def test_dns_rebinding_cannot_drive_a_laptop_service(dev_service, charges_path):
    # A page on evil.example whose name now resolves to 127.0.0.1: its requests carry its own Host and Origin.
    body = {"spec": example_spec("fraud", charges_path), "binary": "dev"}
    rebound = {"Host": f"evil.example:{dev_service.port}", "Origin": f"http://evil.example:{dev_service.port}"}
    assert httpx.post(f"{dev_service.url}/train", json=body, headers=rebound).status_code == 400
    assert httpx.get(f"{dev_service.url}/jobs", headers=rebound).status_code == 400
    assert httpx.get(f"{dev_service.url}/jobs").json()["jobs"] == []


def test_forwarded_proto_from_anyone_does_not_change_the_cookie(service):
    response = httpx.post(f"{service.url}/signin", data={"token": ALICE_TOKEN},
                          headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "10.0.0.1"})
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("railyard_session=") and "secure" not in cookie.lower()


@pytest.fixture
def own_service(tmp_path, charges_path):
    """A service of the test's own, with tokens: its tokens file and its throttle are the test's to change."""
    started = []

    def start(*args: str) -> Service:
        tokens = tmp_path / "tokens.yaml"
        tokens.write_text(tokens_yaml(charges_path.parent))
        service = Service(tmp_path / "svc", args=("--auth-tokens", str(tokens), "--no-dispatch", *args)).start()
        service.tokens = tokens
        started.append(service)
        return service

    yield start
    for service in started:
        service.stop()


def test_behind_tls_the_cookie_is_secure_and_host_prefixed(own_service):
    service = own_service("--behind-tls")
    response = httpx.post(f"{service.url}/signin", data={"token": ALICE_TOKEN})
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("__Host-railyard_session=") and "Secure" in cookie and "Path=/" in cookie
    assert "Domain" not in cookie
    session = cookie.split(";", 1)[0]
    assert httpx.get(f"{service.url}/jobs", headers={"Cookie": session}).status_code == 200
    plain = session.replace("__Host-railyard_session", "railyard_session")
    assert httpx.get(f"{service.url}/jobs", headers={"Cookie": plain}).status_code == 401


def _stalled_upload(service: Service, headers: str, size: int) -> socket.socket:
    connection = socket.create_connection(("127.0.0.1", service.port))
    connection.settimeout(10)
    try:
        connection.sendall(f"POST /train HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                           f"Content-Length: {size + 1}\r\n{headers}\r\n".encode() + b"x" * size)
    except (BrokenPipeError, ConnectionResetError, TimeoutError):
        pass  # the service answered and closed before taking it all
    return connection


def _answer(connection: socket.socket, timeout: float) -> bytes:
    connection.settimeout(timeout)
    received = b""
    try:
        while chunk := connection.recv(65536):
            received += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return received


def test_strangers_uploads_are_refused_before_they_are_read(service):
    before = service.peak_resident_bytes()
    started = time.monotonic()
    connections = [_stalled_upload(service, "", (1 << 20) - 1) for _ in range(50)]
    answers = [_answer(c, 5) for c in connections]
    for connection in connections:
        connection.close()
    assert all(a.startswith(b"HTTP/1.1 401") for a in answers), answers[0][:200]
    assert time.monotonic() - started < 30  # answered at once and closed, not held until they finish
    assert service.peak_resident_bytes() - before < 40 << 20  # far below the 50 MiB they tried to park


def test_a_slow_body_is_dropped_at_its_deadline(service):
    connection = _stalled_upload(service, f"Authorization: Bearer {ALICE_TOKEN}\r\n", 1000)
    started = time.monotonic()
    answer = _answer(connection, 20)
    connection.close()
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert time.monotonic() - started < 10  # --body-seconds 2


@pytest.mark.parametrize("route", ["/train", "/validate", "/train?dry_run=true"])
def test_deeply_nested_custom_params_are_422_naming_the_field(service, charges_path, route):
    spec = example_spec("fraud", charges_path)
    spec["metadata"]["owner"] = "fraud-team"
    for depth in (256, 300, 900):
        value = 1
        for _ in range(depth):
            value = {"a": value}
        spec["train"]["custom_params"] = {"deep": value}
        body = json.dumps({"spec": spec, "binary": "small_train"})
        response = httpx.post(f"{service.url}{route}", content=body, headers={**ALICE, "Content-Type": "application/json"})
        assert response.status_code == 422, response.text
        problem = response.json()["detail"][0]
        assert problem["loc"] == ["body", "spec", "train", "custom_params"] and "levels of nesting" in problem["msg"]


def test_removing_a_token_ends_its_sessions_for_good(own_service):
    service = own_service()
    tokens = service.tokens
    browser = signed_in(service)
    assert browser.get("/jobs").status_code == 200
    original = tokens.read_text()
    tokens.write_text("\n".join(line for line in original.splitlines() if "alice" not in line) + "\n")
    time.sleep(2.5)  # the service looks at the file every second, requests or not
    tokens.write_text(original)
    time.sleep(2.5)
    assert browser.get("/jobs").status_code == 401  # the old session did not come back with the token
    assert httpx.get(f"{service.url}/jobs", headers=ALICE).status_code == 200  # the token itself works again
    assert signed_in(service).get("/jobs").status_code == 200


def test_a_tokens_file_that_breaks_fails_closed_and_says_so(own_service):
    service = own_service()
    assert httpx.get(f"{service.url}/jobs", headers=ALICE).status_code == 200
    service.tokens.write_text(service.tokens.read_text() + "this: [is not yaml\n")
    time.sleep(2.5)
    assert httpx.get(f"{service.url}/jobs", headers=ALICE).status_code == 401
    assert "no token is valid until it is fixed" in (service.workdir / "service.log").read_text()
    assert service.alive()


def test_guessing_tokens_is_throttled_per_client(own_service):
    service = own_service()
    codes = [httpx.get(f"{service.url}/jobs", headers={"Authorization": f"Bearer guess-{i:016d}"}).status_code for i in range(40)]
    assert codes[:20] == [401] * 20 and codes[-1] == 429
    throttled = httpx.get(f"{service.url}/jobs", headers=ALICE)  # while throttled, even a right token waits
    assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) >= 1
    signin = httpx.post(f"{service.url}/signin", data={"token": ALICE_TOKEN})
    assert signin.status_code == 429
    assert service.alive()
