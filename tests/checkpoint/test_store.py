"""A run's checkpoints in its store: one object each, the newest two kept, and none from another run ever used."""

import logging

import pytest

from railyard.checkpoint import Checkpoint, Checkpoints, RunIdentity
from railyard.storage import open_store

IDENTITY = RunIdentity(trainer="a" * 64, spec="s" * 64, data="d" * 64, workers=1)


def saved(store, identity=IDENTITY, *iterations: int) -> Checkpoints:
    checkpoints = Checkpoints(store, identity)
    for iteration in iterations:
        checkpoints.save(Checkpoint(loop=0, iteration=iteration, library="test", state={"at": iteration},
                                    files={"weights.bin": bytes([iteration % 256]) * 10}))
    return checkpoints


@pytest.mark.parametrize("where", ["local", "s3"])
def test_the_newest_two_are_kept_and_the_newest_is_resumed_from(where, tmp_path, request):
    if where == "s3":
        request.getfixturevalue("aws").create_bucket(Bucket="runs")
        store = open_store("s3://runs/job-1")
    else:
        store = open_store(str(tmp_path / "job-1"))
    saved(store, IDENTITY, 10, 20, 30)
    assert sorted(store.list("checkpoints/")) == ["checkpoints/000-000000020.ckpt", "checkpoints/000-000000030.ckpt"]
    newest = Checkpoints(store, IDENTITY).newest()
    assert (newest.iteration, newest.state, newest.files) == (30, {"at": 30}, {"weights.bin": bytes([30]) * 10})


@pytest.mark.parametrize("field", ["trainer", "spec", "data", "workers"])
def test_a_checkpoint_of_another_run_is_never_used(field, tmp_path, caplog):
    store = open_store(str(tmp_path / "job"))
    saved(store, IDENTITY, 10)
    other = RunIdentity(**{**IDENTITY.as_dict(), field: 2 if field == "workers" else "x" * 64})
    with caplog.at_level(logging.INFO, logger="railyard"):
        assert Checkpoints(store, other).newest() is None
    assert f"written by a run with another {field}; training starts over" in caplog.text


def test_without_resume_nothing_is_looked_for(tmp_path):
    store = open_store(str(tmp_path / "job"))
    saved(store, IDENTITY, 10)
    assert Checkpoints(store, IDENTITY, resume=False).newest() is None


def test_a_damaged_checkpoint_is_passed_over_for_the_one_before(tmp_path, caplog):
    store = open_store(str(tmp_path / "job"))
    saved(store, IDENTITY, 10, 20)
    store.write_bytes("checkpoints/000-000000020.ckpt", b"PK\x03\x04 not a whole zip")
    with caplog.at_level(logging.WARNING, logger="railyard"):
        assert Checkpoints(store, IDENTITY).newest().iteration == 10
    assert "ignoring unreadable checkpoint" in caplog.text


def test_a_checkpoint_that_cannot_be_written_leaves_the_newest_whole(tmp_path):
    store = open_store(str(tmp_path / "job"))
    checkpoints = saved(store, IDENTITY, 10)

    class Unwritable:
        def __len__(self):
            raise OSError("disk full")

    with pytest.raises(Exception):
        checkpoints.save(Checkpoint(loop=0, iteration=20, library="test", files={"weights.bin": Unwritable()}))
    assert [p for p in (tmp_path / "job" / "checkpoints").iterdir()] == [tmp_path / "job" / "checkpoints" / "000-000000010.ckpt"]
    assert Checkpoints(store, IDENTITY).newest().iteration == 10
