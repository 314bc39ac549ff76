"""Reading and recording published binaries. Keyword-only functions that take the session; no HTTP here.

A published binary's record never changes and is never deleted (publishing the
same bytes again changes nothing), so what a lookup by hash found is kept in
the process: a submit that names `NAME@sha256:HEX` reads no row after the first.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from railyard.api.store.models import PublishedBinary
from railyard.binaries.inspect import BuildInfo
from railyard.binaries.reference import Reference


def record(session: Session, *, sha256: str, info: BuildInfo, size_bytes: int, publisher: str) -> tuple[PublishedBinary, bool]:
    """The binary's record and whether it is new; publishing the same bytes again changes nothing."""
    existing = session.get(PublishedBinary, sha256)
    if existing is not None:
        return existing, False
    binary = PublishedBinary(sha256=sha256, name=info.name, target=info.target, git_commit=info.git_commit,
                             git_dirty=info.git_dirty, requirements=info.requirements, size_bytes=size_bytes, publisher=publisher)
    session.add(binary)
    return binary, True


@dataclass(frozen=True)
class Found:
    """What a job records of the binary it runs."""

    sha256: str
    name: str
    git_commit: str


MAX_REMEMBERED = 4096
_by_sha256: weakref.WeakKeyDictionary[Engine, dict[str, Found]] = weakref.WeakKeyDictionary()  # one per database


def find(session: Session, *, reference: Reference) -> Found | None:
    """The binary a reference names: by hash (checked against the name when both are given), else the latest of the name."""
    if reference.sha256:
        known = _by_sha256.setdefault(session.get_bind(), {})
        found = known.get(reference.sha256)
        if found is None:
            binary = session.get(PublishedBinary, reference.sha256)
            if binary is None:
                return None
            found = _found(binary)
            if len(known) >= MAX_REMEMBERED:
                known.clear()
            known[found.sha256] = found
        return found if not reference.name or found.name == reference.name else None
    query = select(PublishedBinary).where(PublishedBinary.name == reference.name)
    binary = session.scalars(query.order_by(PublishedBinary.published_at.desc(), PublishedBinary.sha256).limit(1)).first()
    return None if binary is None else _found(binary)


def _found(binary: PublishedBinary) -> Found:
    return Found(sha256=binary.sha256, name=binary.name, git_commit=binary.git_commit)


def list_binaries(session: Session, *, name: str | None = None, limit: int = 100) -> list[PublishedBinary]:
    query = select(PublishedBinary)
    if name:
        query = query.where(PublishedBinary.name == name)
    return list(session.scalars(query.order_by(PublishedBinary.published_at.desc()).limit(limit)))
