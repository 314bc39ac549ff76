"""Property-based fuzzing of the OpenAPI document with schemathesis: no 5xx, and every response
conforms to the schema, on every endpoint."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from railyard.api.app import create_app
from tests.api.conftest import ALICE, settings_for, tokens_yaml

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=["loopback", "tokens"])
def schema(request, tmp_path_factory, charges_path):
    """The service as one person runs it on loopback, and as it is shared: tokens, alice's bearer header on every call."""
    # Generated specs may name s3:// data: point S3 at a closed loopback port so nothing leaves the machine.
    patch = pytest.MonkeyPatch()
    patch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    patch.setenv("AWS_ACCESS_KEY_ID", "fuzz")
    patch.setenv("AWS_SECRET_ACCESS_KEY", "fuzz")
    tmp_path = tmp_path_factory.mktemp("fuzz")
    tokens = None
    if request.param == "tokens":
        tokens = tmp_path / "tokens.yaml"
        tokens.write_text(tokens_yaml(charges_path.parent))
    app = create_app(settings_for(tmp_path, str(tmp_path / "fuzz.db"), dispatch=False, auth_tokens=tokens and str(tokens),
                                  allowed_hosts=["testserver"]))  # the host the ASGI test client names
    headers = ALICE if tokens else {}
    loaded = schemathesis.openapi.from_asgi("/openapi.json", app, headers=headers)
    loaded.headers = headers
    yield loaded
    patch.undo()


def operations(schema):
    return [result.ok() for result in schema.get_all_operations()]


def test_every_endpoint_is_fuzzed(schema):
    paths = {(op.method.upper(), op.path) for op in operations(schema)}
    for expected in [("POST", "/train"), ("POST", "/validate"), ("GET", "/job/{job_id}/status"), ("GET", "/job/{job_id}/result"),
                     ("GET", "/job/{job_id}/logs"), ("GET", "/jobs"), ("POST", "/job/{job_id}/cancel"), ("POST", "/job/{job_id}/ship"),
                     ("POST", "/job/{job_id}/unship"), ("GET", "/healthz"), ("GET", "/metrics"),
                     ("POST", "/binaries"), ("GET", "/binaries")]:
        assert expected in paths


def test_api_never_errors_and_matches_its_schema(schema):
    for operation in operations(schema):
        @given(case=operation.as_strategy())
        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def fuzz(case):
            # Cross-field rules of the spec (one kind of feature_value, Between low <= high, ...) cannot be
            # said in JSON Schema, so schema-valid bodies may rightly get 422: that check is left out.
            case.call_and_validate(headers=schema.headers, checks=[not_a_server_error, response_schema_conformance,
                                           status_code_conformance, content_type_conformance])

        fuzz()
