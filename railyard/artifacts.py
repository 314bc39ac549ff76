"""Where Railyard keeps what it makes: one root for the trainer, the CLI, the service and `load_model`.

The root is `$RAILYARD_ARTIFACTS`, else `./railyard-data`; a directory or an
`s3://` prefix:

    <root>/runs/<job-id>/     a run's outputs (result.json, model/, scores, labels, log)
    <root>/railyard.db        the service's SQLite database (when it uses SQLite)
    <root>/local-jobs/        the local executor's jobs
    <root>/binaries/          published trainer binaries
"""

from __future__ import annotations

import os
from pathlib import Path

ENV = "RAILYARD_ARTIFACTS"
DEFAULT = "railyard-data"


def root() -> str:
    return os.environ.get(ENV) or DEFAULT


def location(*parts: str, base: str | None = None) -> str:
    """A location under the root (or `base`): a URI stays a URI, a local path becomes absolute."""
    base = base or root()
    if "://" in base:
        return "/".join([base.rstrip("/"), *parts])
    return str(Path(base, *parts).absolute())


def local(*parts: str) -> str:
    """A local path under the root for the files a machine keeps for itself (database, local jobs, binaries);
    under ./railyard-data when the root is a URI."""
    base = root()
    return str(Path(DEFAULT if "://" in base else base, *parts).absolute())


def runs() -> str:
    return location("runs")

