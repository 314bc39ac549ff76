"""Which data a principal's specs (and explanations) may read: every data path must lie under one of its prefixes.

Local paths must be absolute and are compared after resolving `file://`, `..`
and symbolic links, so a link or a parent step cannot lead outside a prefix.
A URI is a known scheme at the very start (`s3://…`); it is compared as
written, and one with a `..` segment is refused. Anything else is a local path. The check runs
before anything opens the data, so a refusal never tells whether a file
outside the prefixes exists or what it holds.
"""

from __future__ import annotations

import os
import re
from urllib.parse import unquote, urlparse

from railyard.errors import UserError
from railyard.spec import TrainingSpec


URI_SCHEMES = ("s3", "gs", "gcs", "abfs", "hdfs")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


class DataAccessDenied(UserError):
    """A spec names data outside the principal's data prefixes."""


class BadDataPath(UserError):
    """A data path the service cannot place: relative, an unknown scheme, a NUL character."""


def _local(path: str) -> str | None:
    """The real absolute path of a local location, or None for a URI."""
    if "\x00" in path:
        raise BadDataPath(f"{path!r} contains a NUL character")
    scheme = _SCHEME.match(path)
    if scheme and scheme[1].lower() == "file":
        path = unquote(urlparse(path).path)
    elif scheme:
        if scheme[1].lower() not in URI_SCHEMES:
            raise BadDataPath(f"{path}: unknown scheme {scheme[1]!r}; expected a local path or one of {', '.join(URI_SCHEMES)}")
        return None
    if not os.path.isabs(path):
        raise BadDataPath(f"{path} is relative; the service needs an absolute path or a URI (the CLI makes paths absolute)")
    return os.path.realpath(path)


def normalize_prefix(prefix: str) -> str:
    try:
        local = _local(prefix)
    except BadDataPath:
        raise UserError(f"data prefix {prefix!r} must be an absolute path or a URI such as s3://bucket/prefix/") from None
    if local is None:
        if ".." in prefix.split("/"):
            raise UserError(f"data prefix {prefix!r} may not contain '..'")
        return prefix.rstrip("/") + "/"
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
    check_paths(data_paths(spec), prefixes)


def check_paths(paths: list[tuple[str, str]], prefixes: tuple[str, ...] | None) -> None:
    """Refuse unless every (JSON path, location) lies under a prefix; None means no restriction."""
    if prefixes is None:
        return
    allowed = ", ".join(prefixes) if prefixes else "none"
    for where, path in paths:
        try:
            real = resolve(path)
        except BadDataPath as exc:
            raise BadDataPath(f"{where}: {exc}") from None
        if real is None or not any((real.rstrip("/") + "/").startswith(prefix) for prefix in prefixes):
            raise DataAccessDenied(f"{where}: {path} is outside your data prefixes (allowed: {allowed})")
