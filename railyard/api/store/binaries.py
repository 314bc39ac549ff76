"""Reading and recording published binaries. Keyword-only functions that take the session; no HTTP here."""

from __future__ import annotations

from sqlalchemy import select
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


def find(session: Session, *, reference: Reference) -> PublishedBinary | None:
    """The binary a reference names: by hash (checked against the name when both are given), else the latest of the name."""
    if reference.sha256:
        binary = session.get(PublishedBinary, reference.sha256)
        if binary is None or (reference.name and binary.name != reference.name):
            return None
        return binary
    query = select(PublishedBinary).where(PublishedBinary.name == reference.name)
    return session.scalars(query.order_by(PublishedBinary.published_at.desc(), PublishedBinary.sha256).limit(1)).first()


def list_binaries(session: Session, *, name: str | None = None, limit: int = 100) -> list[PublishedBinary]:
    query = select(PublishedBinary)
    if name:
        query = query.where(PublishedBinary.name == name)
    return list(session.scalars(query.order_by(PublishedBinary.published_at.desc()).limit(limit)))
