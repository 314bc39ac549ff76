"""A form posted where a binary is streamed: its fields are read whole, so it gets the small body limit, not the binary's.
A binary posted as curl's `--data-binary` sends it (form-typed, with a bearer token) is still streamed."""

from __future__ import annotations

from fastapi.testclient import TestClient

from railyard.api.app import create_app
from tests.api.conftest import CI, settings_for


def test_a_signed_in_form_of_many_megabytes_to_binaries_is_refused_unread(tmp_path, tokens_file):
    app = create_app(settings_for(tmp_path, str(tmp_path / "db"), dispatch=False, auth_tokens=tokens_file))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        signed_in = client.post("/signin", data={"token": "alice-token-0123456789"}, headers={"Sec-Fetch-Site": "same-origin"},
                                follow_redirects=False)
        assert signed_in.status_code == 303
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        refused = client.post("/binaries", content=b"a" * (3 << 20), headers=form)
        assert refused.status_code == 413 and "at most 1048576 bytes" in refused.text
        assert client.post("/binaries", content=b"a=b", headers=form).status_code == 403  # CSRF, then who may publish


def test_a_binary_sent_form_typed_with_a_bearer_token_is_streamed(tmp_path, tokens_file, small_pex):
    app = create_app(settings_for(tmp_path, str(tmp_path / "db"), dispatch=False, auth_tokens=tokens_file))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        published = client.post("/binaries", content=small_pex.read_bytes(),
                                headers={"Content-Type": "application/x-www-form-urlencoded", **CI})
        assert published.status_code == 201, published.text
