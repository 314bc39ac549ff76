"""References to published binaries: `NAME` (the latest published), `NAME@sha256:HEX` or `sha256:HEX`."""

from __future__ import annotations

import re
from dataclasses import dataclass

from railyard.errors import UserError

FORMS = "NAME (the latest published), NAME@sha256:HEX or sha256:HEX"
_REFERENCE = re.compile(r"^(?:(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]{0,127})(?:@sha256:(?P<pinned>[0-9a-f]{64}))?|sha256:(?P<digest>[0-9a-f]{64}))$")


class BadReference(UserError):
    """Not a reference to a published binary."""


@dataclass(frozen=True)
class Reference:
    name: str | None
    sha256: str | None

    def __str__(self) -> str:
        if self.name and self.sha256:
            return f"{self.name}@sha256:{self.sha256}"
        return self.name or f"sha256:{self.sha256}"


def parse(text: str) -> Reference:
    match = _REFERENCE.match(text)
    if match is None:
        raise BadReference(f"binary: {text!r} is not a published binary; expected {FORMS}")
    return Reference(match["name"], match["pinned"] or match["digest"])


def reference(name: str, sha256: str) -> str:
    return f"{name}@sha256:{sha256}"
