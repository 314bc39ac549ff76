"""Read-only pyarrow filesystems that open data only inside the data prefixes, checked as each file is opened.

`guarded(filesystem, prefixes, where)` wraps a LocalFileSystem or an S3FileSystem in a `pyarrow.fs.PyFileSystem`
whose every look (file info, directory listing) and every open is checked; a refusal is
`DataAccessDenied` with the service's own line (`railyard.storage.prefixes.denied`), naming the path as it
was asked for, never where a link leads.

Locally a path is first compared by its real path, before anything says whether it exists, so a link
leading out is refused alike whether its target exists or not. Then it is opened, and what was actually
opened is checked: the real path of the open descriptor (`/proc/self/fd/N`) must lie under a prefix and name
the very inode the descriptor holds (same device and inode). A link or a directory on the path swapped in
after any earlier check is therefore caught at the open itself. Arrow then reads the descriptor's own
inode (it opens `/proc/self/fd/N`, which cannot be swapped), natively, so reads are as fast as before.
Data files must be regular files (a FIFO or a device is refused before Arrow opens it). Directory
listings (directory and hive datasets) open each directory the same way and check every entry, so an
entry or a partition folder that links out of the prefixes is refused.

On S3 a key is read or listed only when `s3://bucket/key` lies under an `s3://` prefix, written plainly:
empty, `.` and `..` segments, backslashes and percent-escapes are refused, so no path form can name
another key than it seems to. Every key a listing returns is checked too.
"""

from __future__ import annotations

import os
import re
import stat

import pyarrow.fs as pafs

from railyard.storage.prefixes import Prefixes, denied, lexical

_OPEN = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC  # non-blocking: a FIFO cannot hold the reader
_LOOK = os.O_PATH | os.O_CLOEXEC  # a look at what a path names, needing no read permission
_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
MAX_DIRECTORY_DEPTH = 64  # of a directory or hive dataset, below its own path


def guarded(filesystem: pafs.FileSystem, prefixes: Prefixes, where: str) -> pafs.PyFileSystem:
    """`filesystem` (local or S3), readable only under `prefixes`; refusals name the spec field `where`."""
    if isinstance(filesystem, pafs.S3FileSystem):
        return pafs.PyFileSystem(S3PrefixGuard(filesystem, prefixes, where))
    if isinstance(filesystem, pafs.LocalFileSystem):
        return pafs.PyFileSystem(LocalPrefixGuard(prefixes, where))
    raise TypeError(f"no prefix guard for a {type(filesystem).__name__}")


class _ReadOnly(pafs.FileSystemHandler):
    """Refuses every change: data is only ever read through a guard."""

    def _refuse_write(self, path: str, *args):
        raise PermissionError(f"{path}: data is opened read-only")

    create_dir = delete_dir = delete_file = open_output_stream = open_append_stream = _refuse_write

    def delete_dir_contents(self, path: str, missing_dir_ok: bool = False):
        self._refuse_write(path)

    def delete_root_dir_contents(self):
        self._refuse_write("/")

    def move(self, src: str, dest: str):
        self._refuse_write(dest)

    def copy_file(self, src: str, dest: str):
        self._refuse_write(dest)

    def normalize_path(self, path: str) -> str:
        return path


class LocalPrefixGuard(_ReadOnly):
    def __init__(self, prefixes: Prefixes, where: str):
        self.prefixes = prefixes
        self.local_prefixes = tuple(p for p in prefixes if p.startswith("/"))
        self.where = where
        self.local = pafs.LocalFileSystem()

    def __eq__(self, other) -> bool:
        return isinstance(other, LocalPrefixGuard) and (other.prefixes, other.where) == (self.prefixes, self.where)

    def __hash__(self) -> int:
        return hash((self.prefixes, self.where))

    def get_type_name(self) -> str:
        return "railyard-local-guard"

    def _inside(self, real: str) -> bool:
        return any((real.rstrip("/") + "/").startswith(prefix) for prefix in self.local_prefixes)

    def _check_name(self, path: str) -> None:
        """Refuse a path whose real path leaves the prefixes, before anything looks at what it names."""
        if "\x00" in path or not self._inside(os.path.realpath(lexical(path))):
            raise denied(self.where, path, self.prefixes)

    def _open(self, path: str, flags: int) -> tuple[int, os.stat_result]:
        """A descriptor of what `path` names (its `..` taken by name, as checked), once what was opened is known
        to lie inside the prefixes."""
        self._check_name(path)
        try:
            fd = os.open(lexical(path), flags)
        except (FileNotFoundError, NotADirectoryError):
            self._check_name(path)  # a link that appeared meanwhile is refused, not reported missing
            raise
        try:
            held = os.fstat(fd)
            real = os.readlink(f"/proc/self/fd/{fd}")
            try:
                named = os.stat(real)
            except OSError:
                named = None  # moved or deleted meanwhile: the real path names nothing we hold
            if not self._inside(real) or named is None or (named.st_dev, named.st_ino) != (held.st_dev, held.st_ino):
                raise denied(self.where, path, self.prefixes)
            return fd, held
        except BaseException:
            os.close(fd)
            raise

    def _info(self, path: str) -> pafs.FileInfo:
        try:
            fd, held = self._open(path, _LOOK)
        except (FileNotFoundError, NotADirectoryError):
            return pafs.FileInfo(path, pafs.FileType.NotFound)
        os.close(fd)
        if stat.S_ISDIR(held.st_mode):
            return pafs.FileInfo(path, pafs.FileType.Directory, mtime_ns=held.st_mtime_ns)
        if stat.S_ISREG(held.st_mode):
            return pafs.FileInfo(path, pafs.FileType.File, mtime_ns=held.st_mtime_ns, size=held.st_size)
        return pafs.FileInfo(path, pafs.FileType.Unknown, mtime_ns=held.st_mtime_ns)

    def get_file_info(self, paths: list[str]) -> list[pafs.FileInfo]:
        return [self._info(path) for path in paths]

    def get_file_info_selector(self, selector: pafs.FileSelector) -> list[pafs.FileInfo]:
        found: list[pafs.FileInfo] = []
        try:
            self._list(selector.base_dir, selector.recursive, found)
        except FileNotFoundError:
            if not selector.allow_not_found:
                raise
        return found

    def _list(self, directory: str, recursive: bool, found: list) -> None:
        """Every entry under `directory` (below it too when `recursive`), each directory opened and checked, depth
        first in name order, without recursion; at most MAX_DIRECTORY_DEPTH directories deep."""
        pending = [(directory, frozenset(), 0)]
        while pending:
            current, above, depth = pending.pop()
            if depth > MAX_DIRECTORY_DEPTH:
                raise OSError(f"{directory}: directories are nested more than {MAX_DIRECTORY_DEPTH} deep")
            fd, held = self._open(current, _OPEN | os.O_DIRECTORY)
            try:
                here = (held.st_dev, held.st_ino)
                if here in above:
                    raise OSError(f"{current}: a link leads back to a directory above it")
                names = sorted(os.listdir(fd))
            finally:
                os.close(fd)
            base = current.rstrip("/")
            below = []
            for name in names:
                info = self._info(f"{base}/{name}")
                if info.type == pafs.FileType.NotFound:
                    continue  # removed meanwhile, or a link to nothing inside the prefixes
                found.append(info)
                if recursive and info.type == pafs.FileType.Directory:
                    below.append(info.path)
            pending.extend((path, above | {here}, depth + 1) for path in reversed(below))

    def _opened_file(self, path: str) -> int:
        fd, held = self._open(path, _OPEN)
        if not stat.S_ISREG(held.st_mode):
            os.close(fd)
            raise IsADirectoryError(f"{path} is a directory") if stat.S_ISDIR(held.st_mode) else \
                OSError(f"{path} is not a regular file")
        return fd

    def _natively(self, path: str, opener):
        """Arrow's own file over the very inode checked: it opens our descriptor's /proc entry, then ours is closed."""
        fd = self._opened_file(path)
        try:
            return opener(f"/proc/self/fd/{fd}")
        finally:
            os.close(fd)

    def open_input_file(self, path: str):
        return self._natively(path, self.local.open_input_file)

    def open_input_stream(self, path: str):
        return self._natively(path, self.local.open_input_stream)


class S3PrefixGuard(_ReadOnly):
    def __init__(self, s3: pafs.S3FileSystem, prefixes: Prefixes, where: str):
        self.s3 = s3
        self.prefixes = prefixes
        self.s3_prefixes = tuple(p for p in prefixes if p.startswith("s3://"))
        self.where = where

    def __eq__(self, other) -> bool:
        return isinstance(other, S3PrefixGuard) and (other.prefixes, other.where) == (self.prefixes, self.where) \
            and other.s3 == self.s3

    def __hash__(self) -> int:
        return hash((self.prefixes, self.where))

    def get_type_name(self) -> str:
        return "railyard-s3-guard"

    def _check(self, path: str) -> None:
        """Refuse a bucket/key that is not plainly under an s3 prefix."""
        plain = path[:-1] if path.endswith("/") else path
        uri = f"s3://{plain}"
        segments = plain.split("/")
        if (any(s in ("", ".", "..") for s in segments) or "\\" in plain or _ESCAPE.search(plain)
                or any(ord(c) < 0x20 or c == "\x7f" for c in plain)
                or not any((uri + "/").startswith(prefix) for prefix in self.s3_prefixes)):
            raise denied(self.where, f"s3://{path}", self.prefixes)

    def get_file_info(self, paths: list[str]) -> list[pafs.FileInfo]:
        for path in paths:
            self._check(path)
        return self.s3.get_file_info(paths)

    def get_file_info_selector(self, selector: pafs.FileSelector) -> list[pafs.FileInfo]:
        self._check(selector.base_dir)
        infos = self.s3.get_file_info(selector)
        for info in infos:
            self._check(info.path)
        return infos

    def open_input_file(self, path: str):
        self._check(path)
        return self.s3.open_input_file(path)

    def open_input_stream(self, path: str):
        self._check(path)
        return self.s3.open_input_stream(path)
