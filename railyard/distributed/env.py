"""Which worker this trainer process is, read from the environment the launcher sets.

    RAILYARD_WORKERS           N, the job's number of workers (absent: 1)
    RAILYARD_WORKER_INDEX      0..N-1 (absent on Kubernetes: JOB_COMPLETION_INDEX, set by Indexed Jobs)
    RAILYARD_RENDEZVOUS_HOST   worker 0's host
    RAILYARD_RENDEZVOUS_PORT   base port P: XGBoost's tracker listens on P, torch.distributed's store on P+1
    RAILYARD_EXCHANGE_TIMEOUT  optional: seconds one exchange may wait for the other workers once they have
                               all joined (absent: 6 hours); the launchers give the job's deadline. Joining
                               itself waits 5 minutes at most.
    RAILYARD_RENDEZVOUS_DIR    optional: a private directory every worker can write, for workers on one
                               machine; torch.distributed's store is then a file there, not a TCP server
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping

from railyard.errors import UserError


DEFAULT_EXCHANGE_TIMEOUT_S = 6 * 3600


class WorkerEnvError(UserError):
    """The worker environment variables are missing or inconsistent."""


@dataclass(frozen=True)
class WorkerEnv:
    rank: int = 0
    world_size: int = 1
    rendezvous_host: str = "127.0.0.1"
    rendezvous_port: int = 0
    rendezvous_dir: str | None = None
    exchange_timeout_s: int = DEFAULT_EXCHANGE_TIMEOUT_S

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def tracker_port(self) -> int:
        return self.rendezvous_port

    @property
    def torch_port(self) -> int:
        return self.rendezvous_port + 1

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> "WorkerEnv":
        environ = os.environ if environ is None else environ
        world_size = _integer(environ, "RAILYARD_WORKERS", "1")
        if world_size < 1:
            raise WorkerEnvError(f"RAILYARD_WORKERS: expected a number of workers >= 1, got {world_size}")
        if world_size == 1:
            return cls()
        index_name = "RAILYARD_WORKER_INDEX" if "RAILYARD_WORKER_INDEX" in environ else "JOB_COMPLETION_INDEX"
        rank = _integer(environ, index_name, None)
        if not 0 <= rank < world_size:
            raise WorkerEnvError(f"{index_name}: expected a worker index in 0..{world_size - 1}, got {rank}")
        host = environ.get("RAILYARD_RENDEZVOUS_HOST")
        if not host:
            raise WorkerEnvError(f"RAILYARD_RENDEZVOUS_HOST: expected worker 0's host for {world_size} workers, got nothing")
        port = _integer(environ, "RAILYARD_RENDEZVOUS_PORT", None)
        if not 0 < port < 65535:
            raise WorkerEnvError(f"RAILYARD_RENDEZVOUS_PORT: expected a port in 1..65534, got {port}")
        exchange_timeout = _integer(environ, "RAILYARD_EXCHANGE_TIMEOUT", str(DEFAULT_EXCHANGE_TIMEOUT_S))
        if exchange_timeout < 1:
            raise WorkerEnvError(f"RAILYARD_EXCHANGE_TIMEOUT: expected seconds >= 1, got {exchange_timeout}")
        return cls(rank=rank, world_size=world_size, rendezvous_host=host, rendezvous_port=port,
                   rendezvous_dir=environ.get("RAILYARD_RENDEZVOUS_DIR") or None, exchange_timeout_s=exchange_timeout)


def _integer(environ: Mapping[str, str], name: str, default: str | None) -> int:
    raw = environ.get(name, default)
    if raw is None:
        raise WorkerEnvError(f"{name}: expected an integer for a job of several workers, got nothing")
    try:
        return int(raw)
    except ValueError:
        raise WorkerEnvError(f"{name}: expected an integer, got {raw!r}") from None
