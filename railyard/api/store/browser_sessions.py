"""Browser sessions: created at sign-in, found by the cookie's id, ended at sign-out or expiry."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import delete
from sqlalchemy.orm import Session

from railyard.api.store.models import BrowserSession, utcnow


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def open_session(session: Session, *, token_hash: str, lifetime: dt.timedelta) -> tuple[str, BrowserSession]:
    """A new session: (the id for the cookie, its record). Only the id's hash is stored."""
    session_id = secrets.token_urlsafe(32)
    record = BrowserSession(id_hash=_hash(session_id), token_hash=token_hash, csrf_token=secrets.token_urlsafe(32),
                            expires_at=utcnow() + lifetime)
    session.add(record)
    return session_id, record


def find_session(session: Session, *, session_id: str) -> BrowserSession | None:
    record = session.get(BrowserSession, _hash(session_id))
    if record is None or record.expires_at <= utcnow():
        return None
    return record


def close_session(session: Session, *, session_id: str) -> None:
    session.execute(delete(BrowserSession).where(BrowserSession.id_hash == _hash(session_id)))


def forget_expired_sessions(session: Session) -> int:
    return session.execute(delete(BrowserSession).where(BrowserSession.expires_at <= utcnow())).rowcount


def close_sessions_of(session: Session, *, token_hashes: set[str], all_but: bool = False) -> int:
    """End every session signed in with one of these tokens (they left the tokens file), or with `all_but`, with
    any token but these (the tokens file's, as the service starts)."""
    signed_in_with = BrowserSession.token_hash.in_(sorted(token_hashes))
    return session.execute(delete(BrowserSession).where(~signed_in_with if all_but else signed_in_with)).rowcount
