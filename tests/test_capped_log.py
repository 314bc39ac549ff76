"""Capped logs: the first and last bytes kept, one line saying how many were left out."""

import logging

import pytest

from railyard.capped_log import CappedLog, CappedLogHandler, omitted_line


def capped(tmp_path, chunks, head, tail) -> bytes:
    path = tmp_path / "log"
    with CappedLog(path, head, tail) as log:
        for chunk in chunks:
            log.write(chunk)
    return path.read_bytes()


@pytest.mark.parametrize("size", [1, 7, 100, 4096])
def test_head_and_tail_are_kept_whatever_the_write_sizes(tmp_path, size):
    data = b"".join(b"line %05d\n" % i for i in range(1000))
    chunks = [data[i:i + size] for i in range(0, len(data), size)]
    assert capped(tmp_path, chunks, 1100, 550) == data[:1100] + omitted_line(len(data) - 1650) + data[-550:]


def test_a_log_within_the_cap_is_unchanged(tmp_path):
    assert capped(tmp_path, [b"a" * 10, b"b" * 5], 10, 5) == b"a" * 10 + b"b" * 5


def test_the_omission_line_starts_a_line(tmp_path):
    assert capped(tmp_path, [b"abc\ndef", b"ghijkl"], 5, 2) == b"abc\nd\n" + omitted_line(6) + b"kl"


def test_readers_see_the_head_grow_and_the_tail_at_close(tmp_path):
    path = tmp_path / "log"
    log = CappedLog(path, 4, 4)
    log.write(b"12345678xy")
    log.flush()
    assert path.read_bytes() == b"1234"
    log.close()
    assert path.read_bytes() == b"1234\n" + omitted_line(2) + b"78xy"


def test_env_vars_set_the_cap(tmp_path, monkeypatch):
    monkeypatch.setenv("RAILYARD_LOG_HEAD_BYTES", "3")
    monkeypatch.setenv("RAILYARD_LOG_TAIL_BYTES", "2")
    log = CappedLog(tmp_path / "log")
    assert (log.head, log.tail) == (3, 2)
    log.close()
    monkeypatch.setenv("RAILYARD_LOG_HEAD_BYTES", "lots")
    assert CappedLog(tmp_path / "other").head == 4 * 2**20


def test_handler_finishes_the_file_and_starts_again_after(tmp_path, monkeypatch):
    monkeypatch.setenv("RAILYARD_LOG_HEAD_BYTES", "10")
    monkeypatch.setenv("RAILYARD_LOG_TAIL_BYTES", "10")
    path = tmp_path / "trainer.log"
    logger = logging.getLogger("railyard.test_capped_log")
    handler = CappedLogHandler(path)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    try:
        for i in range(10):
            logger.warning(f"record {i}")
        handler.finish()
        assert path.read_bytes() == b"record 0\nr\n" + omitted_line(70) + b"\nrecord 9\n"
        logger.warning("after")
        handler.finish()
        assert path.read_bytes().endswith(b"record 9\nafter\n")
    finally:
        logger.removeHandler(handler)
        handler.close()
