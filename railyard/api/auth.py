"""Principals and the tokens file: who a bearer token is, and what it may reach.

The tokens file (JSON or YAML) maps each token, or better its SHA-256, to a principal:

    "sha256:9f86d08…":                 # `railyard token new` prints a token and this entry
      owner: alice
      teams: [fraud]
      data_prefixes: [/data/fraud/, "s3://ml-data/fraud/"]
    "ci-token-0123456789abcdef": {owner: ci, teams: [], publish: true}
    "sha256:2c26b46…": {owner: root, admin: true}

`admin` sees and acts on every job; `publish` may publish trainer binaries;
`data_prefixes` are the path and URI prefixes the principal's specs may read
(none: no data at all). Tokens are hashed as the file is read and compared in
constant time; the service never holds or logs a token itself. The file is
read again when it changes (within `RECHECK_SECONDS`), so a removed token stops
working without a restart, and its browser sessions are deleted for good
(putting the token back does not bring them back). A file that cannot be read
or parsed fails closed: no token is valid until it is fixed, and the log says
so at error level when it happens and every minute after. Without a tokens file every
request acts as `anonymous`, which is allowed only on loopback.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from railyard.api.data_access import normalize_prefix
from railyard.errors import UserError

log = logging.getLogger("railyard.auth")
HASHED = re.compile(r"^sha256:[0-9a-f]{64}$")
MIN_TOKEN_CHARS = 16
RECHECK_SECONDS = 1.0
BROKEN_REMINDER_SECONDS = 60.0
KEYS = {"owner", "teams", "admin", "publish", "data_prefixes"}


@dataclass(frozen=True)
class Principal:
    owner: str
    teams: tuple[str, ...] = field(default_factory=tuple)
    admin: bool = False
    publish: bool = False
    data_prefixes: tuple[str, ...] = field(default_factory=tuple)
    anonymous: bool = False
    token_hash: str = field(default="", repr=False, compare=False)

    @property
    def unrestricted(self) -> bool:
        return self.anonymous or self.admin

    def may_act_as(self, owner: str) -> bool:
        """Whether jobs owned by `owner` are this principal's (its own or one of its teams')."""
        return self.unrestricted or owner == self.owner or owner in self.teams

    @property
    def owners(self) -> tuple[str, ...] | None:
        """The job owners this principal may see, or None for all of them."""
        return None if self.unrestricted else tuple(dict.fromkeys((self.owner, *self.teams)))


ANONYMOUS = Principal(owner="anonymous", anonymous=True, publish=True)


def token_hash(token: str) -> str:
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return "ryd_" + secrets.token_urlsafe(32)


def _strings(path: Path, index: int, entry: dict, key: str) -> tuple[str, ...]:
    value = entry.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise UserError(f"--auth-tokens {path}: entry {index}: {key} must be a list of strings")
    return tuple(value)


def _principal(path: Path, index: int, key: str, entry) -> Principal:
    if not isinstance(entry, dict) or not isinstance(entry.get("owner"), str) or not entry["owner"]:
        raise UserError(f"--auth-tokens {path}: entry {index} needs an owner")
    unknown = sorted(set(entry) - KEYS)
    if unknown:
        raise UserError(f"--auth-tokens {path}: entry {index}: unknown keys {', '.join(unknown)}; allowed: {', '.join(sorted(KEYS))}")
    for flag in ("admin", "publish"):
        if not isinstance(entry.get(flag, False), bool):
            raise UserError(f"--auth-tokens {path}: entry {index}: {flag} must be true or false")
    try:
        prefixes = tuple(normalize_prefix(p) for p in _strings(path, index, entry, "data_prefixes"))
    except UserError as exc:
        raise UserError(f"--auth-tokens {path}: entry {index}: {exc}") from None
    if HASHED.match(key):
        digest = key
    elif len(key) >= MIN_TOKEN_CHARS and not key.startswith("sha256:"):
        digest = token_hash(key)
    else:
        raise UserError(f"--auth-tokens {path}: entry {index}: expected a token of at least {MIN_TOKEN_CHARS} characters "
                        "or sha256:<64 lowercase hex digits>")
    return Principal(owner=entry["owner"], teams=_strings(path, index, entry, "teams"), admin=entry.get("admin", False),
                     publish=entry.get("publish", False), data_prefixes=prefixes, token_hash=digest)


class TokenTable:
    def __init__(self, principals: list[Principal], broken: str | None = None):
        self._entries = [(p.token_hash.encode(), p) for p in principals]
        self.broken = broken  # why the file could not be taken; no token is valid meanwhile

    @classmethod
    def load(cls, path: str | Path) -> "TokenTable":
        path = Path(path)
        try:
            text = path.read_text()
            raw = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except (OSError, ValueError, yaml.YAMLError) as exc:
            raise UserError(f"--auth-tokens {path}: cannot read it: {exc}") from exc
        if not isinstance(raw, dict) or not raw:
            raise UserError(f"--auth-tokens {path}: expected a mapping of token (or sha256:HEX) to {{owner, teams, ...}}")
        principals = [_principal(path, i + 1, str(key), entry) for i, (key, entry) in enumerate(raw.items())]
        return cls(principals)

    @property
    def hashes(self) -> set[str]:
        return {known.decode() for known, _ in self._entries}

    def by_hash(self, digest: str) -> Principal | None:
        """The principal of a token's hash, checking every entry so that timing reveals nothing."""
        presented = digest.encode()
        found = None
        for known, principal in self._entries:
            if hmac.compare_digest(known, presented):
                found = principal
        return found

    def principal(self, presented: str) -> Principal | None:
        return self.by_hash(token_hash(presented))


class TokenFile:
    """The tokens file's table, read again whenever the file changes.

    `watch(revoke)` looks at the file every RECHECK_SECONDS in a thread of its own, so a token
    removed and put back between two requests is still seen removed; `revoke(hashes)` is called
    with the hashes of the tokens that left the table.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._stamp = self._stat()
        self._table = TokenTable.load(self.path)  # a bad file at start stops the service
        self._taken = self._table  # the last table that parsed: what a removal is seen against
        self._checked = time.monotonic()
        self._lock = threading.Lock()
        self._revoke = None
        self._stop = threading.Event()

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            stat = os.stat(self.path)
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size, stat.st_ino

    def watch(self, revoke) -> None:
        self._revoke = revoke
        threading.Thread(target=self._watch, name="railyard-tokens", daemon=True).start()

    def close(self) -> None:
        self._stop.set()

    def _watch(self) -> None:
        told = time.monotonic()
        while not self._stop.wait(RECHECK_SECONDS):
            try:
                self._reload()
                if self._table.broken and time.monotonic() - told > BROKEN_REMINDER_SECONDS:
                    told = time.monotonic()
                    log.error("tokens file %s still cannot be taken; no token is valid: %s", self.path, self._table.broken)
            except Exception:  # keep watching whatever one look hit
                log.exception("tokens file %s: looking at it failed", self.path)

    def _fresh(self) -> TokenTable:
        if time.monotonic() - self._checked >= RECHECK_SECONDS:
            self._reload()
        return self._table

    def _reload(self) -> None:
        with self._lock:
            self._checked = time.monotonic()
            stamp = self._stat()
            if stamp == self._stamp:
                return
            self._stamp = stamp
            try:
                self._table = TokenTable.load(self.path)
                log.info("tokens file %s read again", self.path)
            except UserError as exc:
                self._table = TokenTable([], broken=str(exc))
                log.error("tokens file %s changed and cannot be taken; no token is valid until it is fixed: %s", self.path, exc)
                return
            gone, self._taken = self._taken.hashes - self._table.hashes, self._table
        if gone and self._revoke is not None:
            self._revoke(gone)

    @property
    def broken(self) -> bool:
        return self._fresh().broken is not None

    @property
    def hashes(self) -> set[str]:
        return self._fresh().hashes

    def by_hash(self, digest: str) -> Principal | None:
        return self._fresh().by_hash(digest)

    def principal(self, presented: str) -> Principal | None:
        return self._fresh().principal(presented)
