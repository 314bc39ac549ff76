"""A zip member name flagged UTF-8 that is not UTF-8: refused as not a pex, and no upload is left behind."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from railyard.api.app import create_app
from tests.api.conftest import CI, settings_for, tokens_file  # noqa: F401  (a fixture)
from tests.binaries.test_inspect import SHEBANG, members, refused, zip_bytes


def badly_named(**more) -> bytes:
    """A trainer pex (as test_inspect builds it) with one member whose name is flagged UTF-8 but is not."""
    body = bytearray(zip_bytes(members(**{"x\u00e9.py": ""}, **more)))
    encoded = "x\u00e9.py".encode()
    for _ in range(2):  # the local header and the directory entry
        at = body.find(encoded)
        body[at:at + len(encoded)] = b"x\xff\xfe.py"
    return SHEBANG + bytes(body)


def test_a_member_name_that_is_not_utf8_is_not_a_trainer(tmp_path):
    path = tmp_path / "trainer.pex"
    path.write_bytes(badly_named())
    assert "not a pex (a zip file)" in refused(str(path))


def test_publishing_it_is_422_and_leaves_no_upload(tmp_path, tokens_file):
    app = create_app(settings_for(tmp_path, str(tmp_path / "db"), dispatch=False, auth_tokens=tokens_file))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        response = client.post("/binaries", content=badly_named(), headers={"Content-Type": "application/octet-stream", **CI})
    assert response.status_code == 422 and "not a Railyard trainer pex" in response.text
    assert list(Path(tmp_path / "binaries").rglob("*.part")) == []
