"""Data prefixes: where a principal's jobs may read data, how a location is compared with them, and the one refusal.

A prefix is a resolved absolute local directory or a URI (`s3://bucket/prefix/`), and always ends in `/`.
A location is a URI only when a known scheme (`s3://…`) starts it; it is compared as written, and one with
a `..` segment is refused. Anything else is a local path, compared after resolving `file://`, `..` and
symbolic links. The service checks a spec's locations at submit (`railyard.api.data_access`); the prefixes
then travel with the job to every process that opens its data, as the environment variable
RAILYARD_DATA_PREFIXES (a JSON list; absent: no restriction), and the storage layer checks each file again
as it opens it (`railyard.storage.guard`). Both refuse with the same line:

    data.features[0].path: PATH is outside your data prefixes (allowed: /data/fraud/, s3://ml-data/fraud/)
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from urllib.parse import unquote, urlparse

from railyard.errors import UserError

URI_SCHEMES = ("s3", "gs", "gcs", "abfs", "hdfs")
ENVIRONMENT_VARIABLE = "RAILYARD_DATA_PREFIXES"
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")

Prefixes = tuple[str, ...]  # normalized prefixes; None where a caller means "no restriction"


class DataAccessDenied(UserError):
    """Data outside the principal's data prefixes was named or reached."""


class BadDataPath(UserError):
    """A data path the service cannot place: relative, an unknown scheme, a NUL character."""


def local_path(path: str) -> str | None:
    """The real absolute path of a local location, or None for a URI."""
    if "\x00" in path:
        raise BadDataPath(f"{path!r} contains a NUL character")
    scheme = _SCHEME.match(path)
    if scheme and scheme[1].lower() == "file":
        path = unquote(urlparse(path).path)
        if "\x00" in path:
            raise BadDataPath(f"{path!r} contains a NUL character")
    elif scheme:
        if scheme[1].lower() not in URI_SCHEMES:
            raise BadDataPath(f"{path}: unknown scheme {scheme[1]!r}; expected a local path or one of {', '.join(URI_SCHEMES)}")
        return None
    if not os.path.isabs(path):
        raise BadDataPath(f"{path} is relative; the service needs an absolute path or a URI (the CLI makes paths absolute)")
    return os.path.realpath(lexical(path))


def lexical(path: str) -> str:
    """A local path with its `..` taken by name, as a shell's `cd` does: opened so, a path never walks through a
    directory outside the prefixes, so whether one exists cannot show in what opening the path answers."""
    return os.path.normpath(path)


def normalize_prefix(prefix: str) -> str:
    try:
        local = local_path(prefix)
    except BadDataPath:
        raise UserError(f"data prefix {prefix!r} must be an absolute path or a URI such as s3://bucket/prefix/") from None
    if local is None:
        if ".." in prefix.split("/"):
            raise UserError(f"data prefix {prefix!r} may not contain '..'")
        return prefix.rstrip("/") + "/"
    return local.rstrip("/") + "/"


def resolve(path: str) -> str | None:
    """The location a data path really names, for comparing against prefixes; None for a URI with '..'."""
    local = local_path(path)
    if local is not None:
        return local
    return None if ".." in path.split("/") else path


def is_under(location: str, prefixes: Prefixes) -> bool:
    """Whether a resolved location is one of the prefixes or lies below one."""
    return any((location.rstrip("/") + "/").startswith(prefix) for prefix in prefixes)


def denied(where: str, path: str, prefixes: Prefixes) -> DataAccessDenied:
    """The one refusal, naming the field and the path as the principal wrote or reached it, never where a link leads."""
    allowed = ", ".join(prefixes) if prefixes else "none"
    return DataAccessDenied(f"{where}: {path} is outside your data prefixes (allowed: {allowed})")


def check_paths(paths: list[tuple[str, str]], prefixes: Prefixes | None) -> None:
    """Refuse unless every (JSON path, location) lies under a prefix; None means no restriction."""
    if prefixes is None:
        return
    for where, path in paths:
        try:
            real = resolve(path)
        except BadDataPath as exc:
            raise BadDataPath(f"{where}: {exc}") from None
        if real is None or not is_under(real, prefixes):
            raise denied(where, path, prefixes)


def environment_value(prefixes: Sequence[str] | None) -> str | None:
    """RAILYARD_DATA_PREFIXES for a job's processes; None: leave the variable out (no restriction)."""
    return None if prefixes is None else json.dumps(list(prefixes))


def with_prefixes(environment: Mapping[str, str], prefixes: Sequence[str] | None) -> dict[str, str]:
    """A copy of a process environment carrying the job's prefixes; without any (None) the variable is removed,
    so a job never inherits another's restriction, or its launcher's."""
    copied = {k: v for k, v in environment.items() if k != ENVIRONMENT_VARIABLE}
    value = environment_value(prefixes)
    if value is not None:
        copied[ENVIRONMENT_VARIABLE] = value
    return copied


def _canonical(prefix: object) -> bool:
    if not isinstance(prefix, str) or not prefix.endswith("/") or "\x00" in prefix:
        return False
    scheme = _SCHEME.match(prefix)
    if scheme:
        return scheme[1].lower() in URI_SCHEMES and not {".", ".."} & set(prefix[len(scheme[0]):].split("/"))
    return prefix == "/" or (os.path.isabs(prefix) and os.path.normpath(prefix) + "/" == prefix)


def prefixes_from_environ(environ: Mapping[str, str] = os.environ) -> Prefixes | None:
    """The prefixes this process may read under, as the service resolved them; None when the variable is absent.

    A value that is not a JSON list of canonical prefixes fails closed: UserError naming the variable."""
    value = environ.get(ENVIRONMENT_VARIABLE)
    if value is None:
        return None
    try:
        prefixes = json.loads(value)
    except ValueError:
        prefixes = None
    if not isinstance(prefixes, list) or not all(_canonical(p) for p in prefixes):
        raise UserError(f"{ENVIRONMENT_VARIABLE}: expected a JSON list of data prefixes such as "
                        f'["/data/fraud/", "s3://ml-data/fraud/"], each ending in "/", got {value[:200]!r}')
    return tuple(prefixes)
