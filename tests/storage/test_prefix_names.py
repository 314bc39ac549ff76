"""How a data path is read before it is compared with the prefixes: `..` by name, NUL characters wherever they hide.

A path that climbs out of a directory of another team and back into one's own prefix must answer the same
whether that directory exists or not, or its answers would list another team's folders (hive partition
values among them) one guess at a time.
"""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from railyard.pipeline.load import open_source, read_source
from railyard.spec import FeatureSource
from railyard.storage.prefixes import ENVIRONMENT_VARIABLE, BadDataPath, check_paths, normalize_prefix


@pytest.fixture
def alice(tmp_path, monkeypatch):
    """Alice's prefix, with this process restricted to it; bob's hive dataset has a partition `region=EU`."""
    (tmp_path / "alice").mkdir()
    (tmp_path / "bob" / "hive" / "region=EU").mkdir(parents=True)
    pq.write_table(pa.table({"amount": [1.0, 2.0]}), tmp_path / "alice" / "own.parquet")
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, json.dumps([normalize_prefix(str(tmp_path / "alice"))]))
    return tmp_path / "alice"


def test_climbing_through_another_teams_folder_does_not_tell_whether_it_exists(alice):
    hive = alice.parent / "bob" / "hive"
    answers = []
    for partition in ("region=EU", "region=NOWHERE"):
        path = f"{hive}/{partition}/../../../alice/own.parquet"
        check_paths([("data.features[0].path", path)], (normalize_prefix(str(alice)),))
        opened = open_source(0, FeatureSource(names=["amount"], path=path))
        answers.append(read_source(opened, ["amount"], None).table.column("amount").to_pylist())
    assert answers == [[1.0, 2.0], [1.0, 2.0]]


def test_a_nul_escaped_in_a_file_uri_is_a_bad_path(alice):
    with pytest.raises(BadDataPath, match="NUL character"):
        check_paths([("data.features[0].path", f"file://{alice}/%00x.parquet")], (normalize_prefix(str(alice)),))
