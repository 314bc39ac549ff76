"""Service settings: one place for every knob of `railyard serve`."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from railyard import artifacts as artifact_root
from railyard.errors import UserError


@dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    db: str = field(default_factory=lambda: artifact_root.local("railyard.db"))
    executor: str = "local"
    artifacts: str = field(default_factory=artifact_root.runs)
    auth_tokens: str | None = None
    launch_config: str | None = None
    jobs_dir: str = field(default_factory=lambda: artifact_root.local("local-jobs"))
    dispatch: bool = True
    concurrency: dict[str, int] = field(default_factory=lambda: {"CPU": 2, "GPU": 1, "HIGH_MEMORY": 1})
    binaries_dir: str = field(default_factory=lambda: artifact_root.local("binaries"))
    pex_root: str = field(default_factory=lambda: artifact_root.local("pex-root"))
    max_body_bytes: int = 1 << 20
    max_binary_bytes: int = 2 << 30
    poll_seconds: float = 0.5
    dev: bool = False
    metrics_open: bool = False
    session_hours: float = 12.0
    plan_seconds: float = 300.0
    plan_memory_bytes: int = 8 << 30
    plan_concurrency: int = 2
    fingerprint_seconds: float = 30.0

    def check(self) -> None:
        if self.dev and self.auth_tokens is not None:
            raise UserError("--dev runs whatever a request names and is for one person: it cannot be combined with --auth-tokens")
        if self.dev and not is_loopback(self.host):
            raise UserError(f"--dev: serves only on a loopback address, not {self.host}")
        if self.auth_tokens is None and not is_loopback(self.host):
            raise UserError(f"--host {self.host}: serving beyond loopback needs --auth-tokens FILE")
        if self.executor not in ("local", "kubernetes"):
            raise UserError(f"--executor: expected local or kubernetes, got {self.executor!r}")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
