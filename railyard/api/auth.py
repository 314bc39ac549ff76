"""Bearer-token authentication and who may do what.

The tokens file (JSON or YAML) maps each token to a principal:

    "s3cr3t-token": {"owner": "alice", "teams": ["machine-learning-infrastructure"]}

A principal may submit jobs whose metadata.owner is itself or one of its teams,
and cancel or ship only such jobs. Tokens are compared in constant time and are
never logged. Without a tokens file every request acts as `anonymous`, which is
allowed only on a loopback address.
"""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from railyard.errors import UserError


@dataclass(frozen=True)
class Principal:
    owner: str
    teams: tuple[str, ...] = field(default_factory=tuple)
    anonymous: bool = False

    def may_act_as(self, owner: str) -> bool:
        return self.anonymous or owner == self.owner or owner in self.teams


ANONYMOUS = Principal(owner="anonymous", anonymous=True)


class TokenTable:
    def __init__(self, principals: dict[str, Principal]):
        self._entries = [(token.encode(), principal) for token, principal in principals.items()]

    @classmethod
    def load(cls, path: str | Path) -> "TokenTable":
        path = Path(path)
        try:
            text = path.read_text()
            raw = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except (OSError, ValueError, yaml.YAMLError) as exc:
            raise UserError(f"--auth-tokens {path}: cannot read it: {exc}") from exc
        if not isinstance(raw, dict) or not raw:
            raise UserError(f"--auth-tokens {path}: expected a mapping of token to {{owner, teams}}")
        principals = {}
        for i, (token, entry) in enumerate(raw.items()):
            if not isinstance(entry, dict) or not isinstance(entry.get("owner"), str) or len(str(token)) < 16:
                raise UserError(f"--auth-tokens {path}: entry {i + 1} needs a token of at least 16 characters and an owner")
            principals[str(token)] = Principal(owner=entry["owner"], teams=tuple(entry.get("teams") or ()))
        return cls(principals)

    def principal(self, presented: str) -> Principal | None:
        """The principal of a token, checking every entry so that timing reveals nothing."""
        presented_bytes = presented.encode()
        found = None
        for token, principal in self._entries:
            if hmac.compare_digest(token, presented_bytes):
                found = principal
        return found
