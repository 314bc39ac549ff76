"""Which data a principal's specs (and explanations) may read: every data path must lie under one of its prefixes.

The comparison and the refusal live in `railyard.storage.prefixes`, shared with the trainer, which checks
every file again as it opens it. Here the service checks at submit, before anything opens the data, so a
refusal never tells whether a file outside the prefixes exists or what it holds; the prefixes it checked
are then stored on the job and travel with it (`prefixes_of`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from railyard.spec import TrainingSpec
from railyard.storage.prefixes import (  # noqa: F401  (re-exported: the service's names for them)
    URI_SCHEMES,
    BadDataPath,
    DataAccessDenied,
    Prefixes,
    check_paths,
    normalize_prefix,
    resolve,
)

if TYPE_CHECKING:
    from railyard.api.auth import Principal


def prefixes_of(principal: Principal) -> Prefixes | None:
    """The prefixes a principal's data is checked against, at submit and at every open; None: no restriction
    (a service without tokens). An admin reads only under its own prefixes, as anyone."""
    return None if principal.anonymous else principal.data_prefixes


def data_paths(spec: TrainingSpec) -> list[tuple[str, str]]:
    """(JSON path, location) of everything the spec reads."""
    return [(f"data.features[{i}].path", source.path) for i, source in enumerate(spec.data.features)]


def check_data_access(spec: TrainingSpec, prefixes: Prefixes | None) -> None:
    """Refuse the spec unless every data path lies under a prefix; None means no restriction."""
    check_paths(data_paths(spec), prefixes)
