"""The store interface every output location implements.

Paths given to a store are relative to its root and use `/`. Every write is
atomic: a reader sees either the old object or the whole new one, never a
partial file.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from pathlib import Path


class Store(abc.ABC):
    uri: str

    def url(self, relpath: str) -> str:
        """The full path or URI of an object, as reported to users."""
        return f"{self.uri.rstrip('/')}/{relpath}"

    @abc.abstractmethod
    def write_bytes(self, relpath: str, data: bytes) -> str:
        """Write atomically; return the object's URL."""

    @abc.abstractmethod
    def put_file(self, relpath: str, local_path: Path) -> str:
        """Copy a finished local file to relpath atomically; return the object's URL."""

    @abc.abstractmethod
    def read_bytes(self, relpath: str) -> bytes:
        """Read a whole object; StorageError if it is missing."""

    @abc.abstractmethod
    def read_range(self, relpath: str, offset: int, length: int) -> bytes:
        """At most `length` bytes from byte `offset` (b"" at or past the end); StorageError if it is missing.

        Only that range is read, never the whole object. A length of 0 reads nothing.
        """

    @abc.abstractmethod
    def exists(self, relpath: str) -> bool: ...

    @abc.abstractmethod
    def list(self, prefix: str = "") -> Iterator[str]:
        """Relative paths of every object under prefix."""

    @abc.abstractmethod
    def delete(self, relpath: str) -> None:
        """Remove one object; nothing happens when it is already gone."""

    def write_text(self, relpath: str, text: str) -> str:
        return self.write_bytes(relpath, text.encode())


def check_range(offset: int, length: int) -> None:
    if offset < 0 or length < 0:
        raise ValueError(f"expected a non-negative offset and length, got offset {offset}, length {length}")
