"""Parse a lock (requirements.lock): every package pinned with `==` and its sha256 hashes.

Shared by the repository rules' helpers and their tests; standard library only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==(?P<version>[^\s;\\]+)")
_HASH = re.compile(r"--hash=sha256:(?P<digest>[0-9a-f]{64})")


class LockError(Exception):
    pass


def normalize(name: str) -> str:
    """PEP 503 normalized project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def target_name(project: str) -> str:
    """A normalized project's name in Bazel labels and repository names: `scikit-learn` → `scikit_learn`."""
    return project.replace("-", "_").replace(".", "_")


@dataclass
class Pin:
    name: str
    version: str
    hashes: set[str] = field(default_factory=set)
    line: int = 0

    @property
    def key(self) -> str:
        return normalize(self.name)


def _statements(text: str):
    """(first line number, statement) with backslash continuations joined and comments dropped."""
    statement, first = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].rstrip()
        if not statement:
            first = number
        statement += " " + line.removesuffix("\\")
        if not line.endswith("\\"):
            if statement.strip():
                yield first, statement.strip()
            statement = ""


def parse(text: str, source: str = "requirements.lock") -> dict[str, Pin]:
    """{normalized name: Pin}; LockError naming the line for anything unpinned or unhashed."""
    pins: dict[str, Pin] = {}
    for number, line in _statements(text):
        if line.startswith("-"):
            continue
        match = _PIN.match(line)
        if not match:
            raise LockError(f"{source}:{number}: expected NAME==VERSION --hash=sha256:..., got {line.split()[0]!r}")
        pin = Pin(match["name"], match["version"], {m["digest"] for m in _HASH.finditer(line)}, number)
        if not pin.hashes:
            raise LockError(f"{source}:{number}: {pin.name}=={pin.version} has no --hash=sha256 entries")
        if pin.key in pins:
            raise LockError(f"{source}:{number}: {pin.name} is pinned twice")
        pins[pin.key] = pin
    if not pins:
        raise LockError(f"{source}: no pinned requirements")
    return pins
