"""Local store: atomic writes leave either the old object or the new one, never a fragment; ranged reads;
what it writes is readable by its user alone."""

import os
import stat
from pathlib import Path

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


@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_what_it_writes_is_its_users_alone(tmp_path, umask):
    old = os.umask(umask)
    try:
        store = open_store(str(tmp_path / "runs" / "job-1"))
        store.write_text("model/sha256.X", "model")
        store.put_file("scores.tsv", Path(store.write_text("labels.tsv", "1\n")))
    finally:
        os.umask(old)
    for made in ("runs", "runs/job-1", "runs/job-1/model"):
        assert stat.S_IMODE((tmp_path / made).stat().st_mode) == 0o700, made
    for written in ("model/sha256.X", "scores.tsv", "labels.tsv"):
        assert stat.S_IMODE((tmp_path / "runs/job-1" / written).stat().st_mode) == 0o600, written


def test_a_directory_already_there_keeps_its_mode(tmp_path):
    (tmp_path / "shared").mkdir(mode=0o755)
    open_store(str(tmp_path / "shared")).write_text("a/result.json", "{}")
    assert stat.S_IMODE((tmp_path / "shared").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "shared" / "a").stat().st_mode) == 0o700
