"""Service settings: one place for every knob of `railyard serve`."""

from __future__ import annotations

import ipaddress
import math
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
    # Quotas and fair share, per job owner (a person or a team; railyard/api/fair_share.py):
    max_queued_per_owner: int = 500  # queued jobs one owner may have; POST /train and /explain answer 429 beyond
    # compute resource -> jobs one owner runs at once there (absent: the resource's concurrency, no tighter)
    max_running_per_owner: dict[str, int] = field(default_factory=dict)
    owner_weights: dict[str, float] = field(default_factory=dict)  # owner -> its share of each resource's slots (absent: 1)
    # Host names a request may name (Host header); None: the loopback names with --dev or without tokens, else --host.
    allowed_hosts: list[str] | None = None
    behind_tls: bool = False  # a TLS proxy in front: the session cookie is Secure and __Host- prefixed
    trusted_proxies: list[str] = field(default_factory=list)  # whose X-Forwarded-For/-Proto are believed
    body_seconds: float = 30.0  # the longest a client may take to send a request body (between chunks, for a binary)
    max_bodies_bytes: int = 64 << 20  # request bodies held in memory at once, all requests together
    failed_tokens_burst: int = 20  # wrong tokens a client may present before it waits
    failed_tokens_per_second: float = 1.0  # and how fast it may try again after that
    max_attempts: int = 3  # runs of one job's trainer, the first included, when the infrastructure ends them (retries.py)

    def check(self) -> None:
        if self.dev and self.auth_tokens is not None:
            raise UserError("--dev runs whatever a request names and is for one person: it cannot be combined with --auth-tokens")
        if self.dev and not is_loopback(self.host):
            raise UserError(f"--dev: serves only on a loopback address, not {self.host}")
        if self.auth_tokens is None and not is_loopback(self.host):
            raise UserError(f"--host {self.host}: serving beyond loopback needs --auth-tokens FILE")
        if self.allowed_hosts is None and self.host in WILDCARD_HOSTS:
            raise UserError(f"--host {self.host}: listening on every address needs --allowed-hosts naming the service's host names")
        if not 0 < self.body_seconds < 3600:
            raise UserError(f"--body-seconds: expected a number of seconds above 0 and below 3600, got {self.body_seconds!r}")
        if self.allowed_hosts is not None and not all(isinstance(h, str) and h and "/" not in h for h in self.allowed_hosts):
            raise UserError(f"--allowed-hosts: expected host names such as railyard.example.com, got {self.allowed_hosts!r}")
        if self.executor not in ("local", "kubernetes"):
            raise UserError(f"--executor: expected local or kubernetes, got {self.executor!r}")
        self.check_quotas()

    def check_quotas(self) -> None:
        for resource, count in self.concurrency.items():
            if not isinstance(count, int) or count < 1:
                raise UserError(f"--concurrency {resource}={count}: expected a whole number of at least 1")
        if not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise UserError(f"--max-attempts: expected a whole number of at least 1, got {self.max_attempts!r}")
        if not isinstance(self.max_queued_per_owner, int) or self.max_queued_per_owner < 1:
            raise UserError(f"--max-queued-per-owner: expected a whole number of at least 1, got {self.max_queued_per_owner!r}")
        for resource, count in self.max_running_per_owner.items():
            if not isinstance(count, int) or count < 1:
                raise UserError(f"--max-running-per-owner {resource}={count}: expected a whole number of at least 1")
        for owner, weight in self.owner_weights.items():
            if not isinstance(weight, (int, float)) or not 0 < weight < math.inf:
                raise UserError(f"--owner-weight {owner}={weight}: expected a number above 0, e.g. 2 or 0.5")

    def host_names(self) -> list[str]:
        """The Host names requests may carry (Starlette's TrustedHostMiddleware matches them, `*.example.com` too)."""
        if self.allowed_hosts is not None:
            names = self.allowed_hosts
        elif is_loopback(self.host):
            names = LOOPBACK_NAMES
        else:
            names = [self.host]
        return [_as_in_host_header(name) for name in names]


LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
WILDCARD_HOSTS = ("0.0.0.0", "::", "")


def _as_in_host_header(name: str) -> str:
    """An IPv6 address as a Host header writes it, in brackets (`[::1]`); any other name as it is."""
    try:
        return f"[{name}]" if ipaddress.ip_address(name).version == 6 else name
    except ValueError:
        return name


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
