"""Half a surrogate pair (`\\ud800` in the JSON) anywhere in a spec: 422 naming the field, never a 500 when the
spec is written out."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from railyard.api.app import create_app
from tests.api.conftest import ALICE, settings_for, tokens_file  # noqa: F401  (a fixture)
from tests.conftest import example_spec

PLACES = {
    "metadata.project": lambda s: s["metadata"].__setitem__("project", "p\ud800"),
    "metadata.model_description": lambda s: s["metadata"].__setitem__("model_description", "d\udfff"),
    "data.features[0].names[5]": lambda s: s["data"]["features"][0]["names"].append("c\ud800"),
    "filters[0].feature_value.string_vals[0]": lambda s: s["filters"][0]["feature_value"].__setitem__("string_vals", ["U\ud800"]),
    "train.custom_params.k\\ud800": lambda s: s["train"]["custom_params"].__setitem__("k\ud800", 1),
}


@pytest.mark.parametrize("where", PLACES)
def test_half_a_surrogate_pair_is_422_naming_the_field(tmp_path, tokens_file, charges_path, where):
    spec = example_spec("fraud", charges_path)
    spec["metadata"]["owner"] = "fraud-team"
    PLACES[where](spec)
    app = create_app(settings_for(tmp_path, str(tmp_path / "db"), dispatch=False, auth_tokens=tokens_file))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        for path in ("/validate", "/train", "/train?dry_run=true"):
            response = client.post(path, content=json.dumps({"spec": spec, "binary": "fraud_train"}),
                                   headers={"Content-Type": "application/json", **ALICE})
            assert response.status_code == 422, response.text
            assert response.json()["detail"][0]["msg"].startswith(f"{where}: holds U+D")
