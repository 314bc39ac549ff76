"""A store on the local filesystem; atomic writes by temp file, fsync and rename.

What it writes is the writer's alone: files `FILE_MODE` (0600), the directories
it makes `DIR_MODE` (0700), parents included. A run's outputs (models, scores,
labels, reports) are other teams' secrets to every other user of the machine.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlparse

from railyard.errors import StorageError
from railyard.storage.base import Store, check_range

FILE_MODE = 0o600
DIR_MODE = 0o700
PRIVATE_UMASK = 0o077  # for processes whose every write is private: the local executor's supervisor and trainers


def private_dirs(path: str | Path) -> None:
    """Make the directory `path` and its missing parents, each `DIR_MODE` (a directory already there is left as it is)."""
    path, missing = Path(path), []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=DIR_MODE)
        except FileExistsError:
            pass  # made meanwhile by another writer


def _opened_path(fd: int, path: Path) -> str:
    """Where the open file really is: the kernel's word for it (/proc), else its path with every link resolved."""
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return os.path.realpath(path)


class LocalStore(Store):
    def __init__(self, uri: str | Path):
        self.root = Path(os.path.abspath(self.local_path(str(uri))))
        self.uri = str(self.root)

    @staticmethod
    def local_path(uri: str) -> Path:
        if uri.startswith("file://"):
            return Path(unquote(urlparse(uri).path))
        return Path(uri)

    def _path(self, relpath: str) -> Path:
        return self.root / relpath

    def _atomic(self, relpath: str, fill) -> str:
        target = self._path(relpath)
        try:
            private_dirs(target.parent)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
            try:
                with os.fdopen(fd, "wb") as out:
                    fill(out)
                    out.flush()
                    os.fsync(out.fileno())
                os.chmod(tmp, FILE_MODE)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise StorageError(f"cannot write {target}: {exc.strerror or exc}") from exc
        return str(target)

    def write_bytes(self, relpath: str, data: bytes) -> str:
        return self._atomic(relpath, lambda out: out.write(data))

    def put_file(self, relpath: str, local_path: Path) -> str:
        def copy(out):
            with open(local_path, "rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)

        return self._atomic(relpath, copy)

    def delete(self, relpath: str) -> None:
        try:
            self._path(relpath).unlink(missing_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot delete {self._path(relpath)}: {exc.strerror or exc}") from exc

    def read_bytes(self, relpath: str) -> bytes:
        try:
            return self._path(relpath).read_bytes()
        except OSError as exc:
            raise StorageError(f"cannot read {self._path(relpath)}: {exc.strerror or exc}") from exc

    def read_range(self, relpath: str, offset: int, length: int) -> bytes:
        """Only a plain file of its own inside the root is read: what is read here (a job's outputs) was written by a
        trainer, which could plant a link (of the file, or of a folder above it) to the service's own files or another
        job's, a hard link, or a FIFO that would hold the reader forever."""
        check_range(offset, length)
        path = self._path(relpath)
        try:
            with os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW), "rb") as f:
                found = os.fstat(f.fileno())
                if not stat.S_ISREG(found.st_mode) or found.st_nlink != 1 or not self._inside(_opened_path(f.fileno(), path)):
                    raise StorageError(f"cannot read {path}: not a plain file of its own under {self.root}")
                f.seek(offset)
                return f.read(length)
        except OSError as exc:
            raise StorageError(f"cannot read {path}: {exc.strerror or exc}") from exc

    def _inside(self, real: str) -> bool:
        return real.startswith(os.path.realpath(self.root) + os.sep)

    def exists(self, relpath: str) -> bool:
        return self._path(relpath).exists()

    def list(self, prefix: str = "") -> Iterator[str]:
        base = self._path(prefix)
        if base.is_file():
            yield prefix
            return
        if not base.is_dir():
            return
        for path in sorted(base.rglob("*")):
            if path.is_file() and not path.name.endswith(".tmp"):
                yield path.relative_to(self.root).as_posix()
