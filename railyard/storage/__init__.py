"""Where Railyard reads data and writes outputs: local paths and S3, one interface.

`open_store(uri)` gives a `Store` rooted at a local directory, a `file://` URI
or an `s3://bucket/prefix`; `arrow_filesystem(uri)` gives the pyarrow
filesystem and path that the data loader scans.
"""

from railyard.storage.base import Store
from railyard.storage.local import LocalStore
from railyard.storage.s3 import S3Store, arrow_s3_filesystem, is_s3_uri


def open_store(uri: str) -> Store:
    if is_s3_uri(uri):
        return S3Store(uri)
    return LocalStore(uri)


def arrow_filesystem(uri: str):
    """(pyarrow filesystem, path inside it) for a local path, file:// or s3:// URI."""
    if is_s3_uri(uri):
        return arrow_s3_filesystem(), uri.removeprefix("s3://")
    import pyarrow.fs

    return pyarrow.fs.LocalFileSystem(), str(LocalStore.local_path(uri))


__all__ = ["Store", "LocalStore", "S3Store", "open_store", "arrow_filesystem", "is_s3_uri"]
