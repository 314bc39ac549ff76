"""Local store: atomic writes leave either the old object or the new one, never a fragment."""

import pytest

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
