"""Local store: atomic writes leave either the old object or the new one, never a fragment; ranged reads."""

import pytest

from railyard.errors import StorageError
from railyard.storage import open_store


def test_write_read_list(tmp_path):
    store = open_store(f"file://{tmp_path}/out")
    store.write_text("model/a", "x")
    store.write_text("result.json", "{}")
    assert store.read_bytes("model/a") == b"x"
    assert list(store.list()) == ["model/a", "result.json"]
    assert store.url("result.json") == f"{tmp_path}/out/result.json"


def test_failed_write_keeps_the_old_object_and_no_temp_file(tmp_path):
    store = open_store(str(tmp_path))
    store.write_text("result.json", "old")

    def explode(out):
        out.write(b"half of the new cont")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store._atomic("result.json", explode)
    assert (tmp_path / "result.json").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]


def test_read_range(tmp_path):
    store = open_store(str(tmp_path))
    store.write_bytes("trainer.log", b"0123456789")
    assert store.read_range("trainer.log", 0, 4) == b"0123"
    assert store.read_range("trainer.log", 8, 4) == b"89"
    assert store.read_range("trainer.log", 10, 4) == b""
    assert store.read_range("trainer.log", 3, 0) == b""
    with pytest.raises(StorageError, match="cannot read .*/missing.log"):
        store.read_range("missing.log", 0, 4)
    with pytest.raises(ValueError, match="expected a non-negative offset and length"):
        store.read_range("trainer.log", -4, 4)
