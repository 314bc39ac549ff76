"""Allowed hosts written as IPv6 addresses: a request names one in brackets (`Host: [::1]:8080`), and is let in."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from railyard.api.app import create_app
from tests.api.conftest import settings_for


@pytest.mark.parametrize("overrides", [{"host": "::1"}, {"host": "::1", "allowed_hosts": ["::1"]},
                                       {"host": "127.0.0.1", "allowed_hosts": ["[::1]"]}])
def test_a_service_on_ipv6_loopback_answers_requests_that_name_it(tmp_path, overrides):
    with TestClient(create_app(settings_for(tmp_path, str(tmp_path / "db"), dispatch=False, **overrides)),
                    base_url="http://[::1]:8080") as client:
        assert client.get("/jobs").status_code == 200
        assert client.get("/jobs", headers={"Host": "[::2]:8080"}).status_code == 400
