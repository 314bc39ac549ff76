"""A job log of bounded size: the first HEAD bytes and the last TAIL bytes, with a line between them saying how much was left out.

The head goes to the file as it is written, so a reader of the live file sees
it grow; the tail is kept in memory and written by `close()`, after a line such as
``[railyard] … 1048576 bytes of log omitted …``. The file only ever grows, so
a reader paging through it by offset never sees bytes change. A writer killed
with SIGKILL loses its tail. A log it creates is readable by its writer's user alone.

    RAILYARD_LOG_HEAD_BYTES   bytes kept from the start (default 4 MiB)
    RAILYARD_LOG_TAIL_BYTES   bytes kept from the end (default 4 MiB)
"""

from __future__ import annotations

import collections
import logging
import os
from pathlib import Path

from railyard.storage.local import FILE_MODE

HEAD_BYTES = 4 * 2**20
TAIL_BYTES = 4 * 2**20
HEAD_ENV = "RAILYARD_LOG_HEAD_BYTES"
TAIL_ENV = "RAILYARD_LOG_TAIL_BYTES"


def _env_bytes(name: str, default: int) -> int:
    try:
        value = int(os.environ.get(name, default))
    except ValueError:
        return default
    return value if value >= 0 else default


def omitted_line(count: int) -> bytes:
    return f"[railyard] … {count} bytes of log omitted …\n".encode()


class CappedLog:
    """Appends bytes to `path`, keeping at most `head` bytes from the start and `tail` from the end."""

    def __init__(self, path: str | Path, head: int | None = None, tail: int | None = None):
        self.head = _env_bytes(HEAD_ENV, HEAD_BYTES) if head is None else head
        self.tail = _env_bytes(TAIL_ENV, TAIL_BYTES) if tail is None else tail
        self._file = os.fdopen(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, FILE_MODE), "ab")
        self._written = 0  # of the head
        self._last = b"\n"  # the last byte of the head
        self._chunks: collections.deque[bytes] = collections.deque()  # the tail, possibly with extra bytes in front
        self._buffered = 0
        self._omitted = 0

    def write(self, data: bytes) -> None:
        if self._file.closed:
            raise ValueError("write to a closed CappedLog")
        room = self.head - self._written
        if room > 0 and data:
            part = data[:room]
            self._file.write(part)
            self._written += len(part)
            self._last = part[-1:]
            data = data[room:]
        if not data:
            return
        if len(data) > self.tail:
            self._omitted += len(data) - self.tail
            data = data[len(data) - self.tail:]
        self._chunks.append(bytes(data))
        self._buffered += len(data)
        while self._chunks and self._buffered - len(self._chunks[0]) >= self.tail:
            dropped = self._chunks.popleft()
            self._buffered -= len(dropped)
            self._omitted += len(dropped)

    def flush(self) -> None:
        """Flush the head; the tail reaches the file only on close()."""
        if not self._file.closed:
            self._file.flush()

    def close(self) -> None:
        """Write the omission line, if anything was left out, and the tail; then close the file."""
        if self._file.closed:
            return
        tail = b"".join(self._chunks)
        cut = max(len(tail) - self.tail, 0)
        if self._omitted + cut:
            self._file.write((b"" if self._last == b"\n" else b"\n") + omitted_line(self._omitted + cut))
        self._file.write(tail[cut:])
        self._chunks.clear()
        self._file.close()

    def __enter__(self) -> "CappedLog":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class CappedLogHandler(logging.Handler):
    """A logging handler that writes records to a CappedLog.

    `finish()` writes the tail and closes the file; a record logged after that
    starts a new CappedLog appended to the same file.
    """

    def __init__(self, path: str | Path):
        super().__init__()
        self.path = Path(path)
        self._log: CappedLog | None = CappedLog(self.path)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = (self.format(record) + "\n").encode("utf-8", errors="replace")
            if self._log is None:
                self._log = CappedLog(self.path)
            self._log.write(line)
            self._log.flush()
        except Exception:
            self.handleError(record)

    def finish(self) -> None:
        """Make the file complete, tail included."""
        with self.lock:
            if self._log is not None:
                self._log.close()
                self._log = None

    def close(self) -> None:
        self.finish()
        super().close()
