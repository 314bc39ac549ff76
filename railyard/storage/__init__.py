"""Where Railyard reads data and writes outputs: local paths and S3, one interface.

`open_store(uri)` gives a `Store` rooted at a local directory, a `file://` URI
or an `s3://bucket/prefix`; `arrow_filesystem(uri)` gives the pyarrow
filesystem and path that the data loader scans. In a process started with
data prefixes (RAILYARD_DATA_PREFIXES, see `railyard.storage.prefixes`) that
filesystem opens only what lies under them, checking each file as it is opened
(`railyard.storage.guard`).
"""

from railyard.storage.base import Store
from railyard.storage.local import LocalStore
from railyard.storage.prefixes import prefixes_from_environ
from railyard.storage.s3 import S3Store, arrow_s3_filesystem, is_s3_uri


def open_store(uri: str) -> Store:
    if is_s3_uri(uri):
        return S3Store(uri)
    return LocalStore(uri)


def arrow_filesystem(uri: str, where: str = "data"):
    """(pyarrow filesystem, path inside it) for a local path, file:// or s3:// URI; guarded by this process's
    data prefixes, if it has any, with refusals naming the spec field `where`."""
    import pyarrow.fs

    if is_s3_uri(uri):
        filesystem, path = arrow_s3_filesystem(), uri.removeprefix("s3://")
    else:
        filesystem, path = pyarrow.fs.LocalFileSystem(), str(LocalStore.local_path(uri))
    prefixes = prefixes_from_environ()
    if prefixes is None:
        return filesystem, path
    from railyard.storage.guard import guarded

    return guarded(filesystem, prefixes, where), path


__all__ = ["Store", "LocalStore", "S3Store", "open_store", "arrow_filesystem", "is_s3_uri"]
