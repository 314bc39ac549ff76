"""Which data a principal's specs may read: every data path must lie under one of its prefixes.

Local paths are compared after resolving `file://`, `..` and symbolic links,
so a link or a parent step cannot lead outside a prefix. URIs (`s3://…`) are
compared as written, and one with a `..` segment is refused. The check runs
before anything opens the data, so a refusal never tells whether a file
outside the prefixes exists or what it holds.
"""

from __future__ import annotations

import os
from urllib.parse import unquote, urlparse

from railyard.errors import UserError
from railyard.spec import TrainingSpec


class DataAccessDenied(UserError):
    """A spec names data outside the principal's data prefixes."""


def _local(path: str) -> str | None:
    """The real absolute path of a local location, or None for a URI."""
    if path.startswith("file://"):
        path = unquote(urlparse(path).path)
    elif "://" in path:
        return None
    return os.path.realpath(path)


def normalize_prefix(prefix: str) -> str:
    local = _local(prefix)
    if local is None:
        if ".." in prefix.split("/"):
            raise UserError(f"data prefix {prefix!r} may not contain '..'")
        return prefix.rstrip("/") + "/"
    if not os.path.isabs(prefix.removeprefix("file://")):
        raise UserError(f"data prefix {prefix!r} must be an absolute path or a URI such as s3://bucket/prefix/")
    return local.rstrip("/") + "/"


def resolve(path: str) -> str | None:
    """The location a data path really names, for comparing against prefixes; None for a URI with '..'."""
    local = _local(path)
    if local is not None:
        return local
    return None if ".." in path.split("/") else path


def data_paths(spec: TrainingSpec) -> list[tuple[str, str]]:
    """(JSON path, location) of everything the spec reads."""
    return [(f"data.features[{i}].path", source.path) for i, source in enumerate(spec.data.features)]


def check_data_access(spec: TrainingSpec, prefixes: tuple[str, ...] | None) -> None:
    """Refuse the spec unless every data path lies under a prefix; None means no restriction."""
    if prefixes is None:
        return
    allowed = ", ".join(prefixes) if prefixes else "none"
    for where, path in data_paths(spec):
        real = resolve(path)
        if real is None or not any((real.rstrip("/") + "/").startswith(prefix) for prefix in prefixes):
            raise DataAccessDenied(f"{where}: {path} is outside your data prefixes (allowed: {allowed})")
