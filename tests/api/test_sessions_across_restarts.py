"""A token removed from the tokens file while the service was stopped ends its browser sessions when the service
starts, so putting the token back later does not bring them back."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from railyard.api.app import create_app
from tests.api.conftest import settings_for, tokens_file  # noqa: F401  (a fixture)


def test_a_token_removed_while_stopped_and_put_back_does_not_revive_its_sessions(tmp_path, tokens_file):
    settings = dict(dispatch=False, auth_tokens=tokens_file)
    with TestClient(create_app(settings_for(tmp_path, str(tmp_path / "db"), **settings)), base_url="http://127.0.0.1") as client:
        signed_in = client.post("/signin", data={"token": "alice-token-0123456789"}, headers={"Sec-Fetch-Site": "same-origin"},
                                follow_redirects=False)
        cookie = {"railyard_session": signed_in.cookies["railyard_session"]}
    with open(tokens_file) as f:
        with_alice = f.read()
    with open(tokens_file, "w") as f:
        f.write("".join(line for line in with_alice.splitlines(keepends=True) if not line.startswith("alice")))
    with TestClient(create_app(settings_for(tmp_path, str(tmp_path / "db"), **settings)), base_url="http://127.0.0.1") as client:
        time.sleep(0.01)
        with open(tokens_file, "w") as f:
            f.write(with_alice)  # back before anyone presented the cookie
        time.sleep(1.2)  # the service has seen the file again
        client.cookies.update(cookie)
        assert client.get("/jobs").status_code == 401
        assert client.get("/jobs", headers={"Authorization": "Bearer alice-token-0123456789"}).status_code == 200
