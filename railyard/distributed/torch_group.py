"""torch.distributed for a job of several workers: the process group, joined from the worker's environment.

    if uses_torch_group(workflow_cls, env):
        with torch_group(env, device):         # around the workflow's train call
            model = workflow.train(training, holdout)

Every worker joins with its rank and the world size. The store is a file in
RAILYARD_RENDEZVOUS_DIR when the launcher gives one (workers on one machine:
nothing listens), else a TCP server on worker 0 at the rendezvous host, port
P + 1 (XGBoost's tracker has P itself); on loopback gloo binds to `lo` only. The backend is
gloo on CPU and NCCL on a GPU (one per worker). MASTER_ADDR, MASTER_PORT, RANK
and WORLD_SIZE are set as torchrun sets them. The group is destroyed when the
block ends, however it ends. The block gets an exchange (`allgather`) over the
group, like XGBoost's collective (`xgboost_collective.py`). A block that ends
well frees what still holds the group (a DistributedDataParallel wrapper left
in a reference cycle) and ends with a barrier, so that no worker tears its
links down while another still uses them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import os
import sys
from collections.abc import Iterator
from typing import Any

from railyard.distributed.env import WorkerEnv

ENGINE = "torch"
JOIN_TIMEOUT = dt.timedelta(minutes=5)  # how long a worker waits to reach the store; each exchange: env.exchange_timeout_s
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


def is_link_error(exc: BaseException) -> bool:
    """True for torch.distributed's error when a peer is gone: gloo's transport, or the store's network error."""
    dist = sys.modules.get("torch.distributed")  # not imported: not its error (and torch may not be installed)
    if dist is None:
        return False
    return isinstance(exc, dist.DistNetworkError) or (
        isinstance(exc, RuntimeError) and "gloo/transport/" in str(exc))


def uses_torch_group(workflow_cls: type, env: WorkerEnv) -> bool:
    """True for a torch workflow in a job of several workers."""
    return env.distributed and getattr(workflow_cls, "engine", None) == ENGINE


@contextlib.contextmanager
def torch_group(env: WorkerEnv, device: str = "cpu") -> Iterator["TorchExchange"]:
    """Join the job's torch.distributed process group for the block."""
    import torch
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR=env.rendezvous_host, MASTER_PORT=str(env.torch_port),
                      RANK=str(env.rank), WORLD_SIZE=str(env.world_size))
    if env.rendezvous_host in LOOPBACK_HOSTS:
        os.environ["GLOO_SOCKET_IFNAME"] = "lo"
    backend = "nccl" if device.startswith("cuda") else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(0)
    store = _store(env)
    exchange_timeout = dt.timedelta(seconds=env.exchange_timeout_s)
    dist.init_process_group(backend, store=store, rank=env.rank, world_size=env.world_size, timeout=exchange_timeout)
    store.set_timeout(exchange_timeout)  # joined: the store now serves exchanges (NCCL sets its links up through it)
    try:
        yield TorchExchange(env)
        gc.collect()
        dist.barrier()
    finally:
        # A DistributedDataParallel wrapper lives on in a reference cycle after `train` returns; freed later, with
        # the group and the other workers gone, its teardown aborts the process. Free it while both are there.
        gc.collect()
        dist.destroy_process_group()


def _store(env: WorkerEnv):
    import torch.distributed as dist

    if env.rendezvous_dir:
        return dist.FileStore(os.path.join(env.rendezvous_dir, "torch-store"), env.world_size)
    return dist.TCPStore(env.rendezvous_host, env.torch_port, env.world_size, is_master=env.rank == 0,
                         timeout=JOIN_TIMEOUT)


class TorchExchange:
    """`allgather` and `gather` (to rank 0) of any picklable value over the process group."""

    def __init__(self, env: WorkerEnv):
        self.rank, self.world_size = env.rank, env.world_size

    def allgather(self, value: Any) -> list[Any]:
        import torch.distributed as dist

        gathered: list[Any] = [None] * self.world_size
        dist.all_gather_object(gathered, value)
        return gathered

    def gather(self, value: Any) -> list[Any] | None:
        import torch.distributed as dist

        gathered: list[Any] | None = [None] * self.world_size if self.rank == 0 else None
        dist.gather_object(value, gathered, dst=0)
        return gathered
