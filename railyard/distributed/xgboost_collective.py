"""XGBoost's collective for a job of several workers: rank 0 runs the tracker, every worker joins.

The workflow's `train` is unchanged: inside `communicator(env)` XGBoost builds its histograms
from every worker's rows and every worker ends with the same booster. The same channel carries
the pipeline's own exchanges (`allgather`), so no worker waits on files.
"""

from __future__ import annotations

import contextlib
import math
import socket
import sys
import time
from typing import Any, Iterator

from railyard.distributed.env import WorkerEnv, WorkerEnvError
from railyard.errors import TrainingError

ENGINE = "xgboost"
# Seconds a worker waits for the others to join (and, at the end, to leave) before the run fails; once joined, one
# exchange may wait up to the worker environment's exchange timeout (a worker with a larger share loads longer).
JOIN_TIMEOUT_S = 300
# XGBoost waits 2 s longer before each attempt to reach the tracker (2, 4, 6 ... s), so n attempts last n(n - 1) s:
# enough to last the join timeout, since worker 0 (the tracker) may start well after the others (a pod pulling
# its image, say).
TRACKER_ATTEMPTS = math.ceil((1 + math.sqrt(1 + 4 * JOIN_TIMEOUT_S)) / 2)
# Seconds worker 0, failing, keeps its tracker for the others to leave: they are stopped by then when one fails
# for good (the launcher stops every worker), and fail within moments of each other on an error they share.
LEAVE_TIMEOUT_S = 10


def wait_until_resolved(host: str, timeout_s: float = JOIN_TIMEOUT_S) -> None:
    """Wait for the rendezvous name to resolve: a pod's DNS name exists only once its headless Service lists it."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            socket.getaddrinfo(host, None)
            return
        except socket.gaierror as exc:
            if time.monotonic() >= deadline:
                raise WorkerEnvError(f"RAILYARD_RENDEZVOUS_HOST {host} did not resolve within {timeout_s:.0f} s: {exc.strerror}") from None
            time.sleep(1)


def is_link_error(exc: BaseException) -> bool:
    """True for XGBoost's error from its collective layer (a peer or the tracker gone), not from training."""
    core = sys.modules.get("xgboost.core")  # not imported: not its error
    return core is not None and isinstance(exc, core.XGBoostError) and "src/collective/" in str(exc)


def uses_collective(workflow_cls: type, env: WorkerEnv) -> bool:
    """True for an XGBoost workflow in a job of several workers."""
    return env.distributed and getattr(workflow_cls, "engine", None) == ENGINE


@contextlib.contextmanager
def communicator(env: WorkerEnv) -> Iterator["XGBoostExchange"]:
    """Join XGBoost's collective for the body; rank 0 starts the tracker on the rendezvous port first.

    The tracker sorts workers by task id, zero-padded, so XGBoost's rank is the worker index."""
    from xgboost import collective
    from xgboost.core import XGBoostError
    from xgboost.tracker import RabitTracker

    wait_until_resolved(env.rendezvous_host)
    tracker = None
    if env.rank == 0:
        try:
            tracker = RabitTracker(n_workers=env.world_size, host_ip=env.rendezvous_host, port=env.tracker_port,
                                   sortby="task", timeout=JOIN_TIMEOUT_S)
            tracker.start()
        except XGBoostError as exc:
            from railyard.distributed.links import reason

            raise TrainingError(f"worker 0 cannot start XGBoost's tracker at {env.rendezvous_host}:{env.tracker_port}: "
                                f"{reason(exc)}") from None
        args = tracker.worker_args()
    else:
        args = {"dmlc_tracker_uri": env.rendezvous_host, "dmlc_tracker_port": env.tracker_port}
    args = {**args, "dmlc_task_id": f"{env.rank:05d}", "dmlc_timeout": env.exchange_timeout_s, "dmlc_retry": TRACKER_ATTEMPTS}
    failing = False
    try:
        context = collective.CommunicatorContext(**args)
        context.__enter__()
        try:
            yield XGBoostExchange(env)
        except BaseException:
            failing = True
            # The run's own error is the news, not the collective's complaint about leaving early.
            with contextlib.suppress(XGBoostError):
                context.__exit__(*sys.exc_info())
            raise
        context.__exit__(None, None, None)
        if tracker is not None:
            tracker.wait_for(JOIN_TIMEOUT_S)
    except BaseException as exc:
        failing = True
        if tracker is not None and isinstance(exc, Exception):  # not when stopped: the launcher stops the others too
            # Workers that fail later still say goodbye to the tracker, and would retry for minutes were it gone.
            with contextlib.suppress(XGBoostError):
                tracker.wait_for(LEAVE_TIMEOUT_S)
        raise
    finally:
        if tracker is not None:
            try:
                tracker.free()
            except XGBoostError:
                if not failing:
                    raise


class XGBoostExchange:
    """`allgather` and `gather` over XGBoost's collective: one broadcast from each rank in turn."""

    def __init__(self, env: WorkerEnv):
        self.rank, self.world_size = env.rank, env.world_size

    def allgather(self, value: Any) -> list[Any]:
        from xgboost import collective

        # Wrapped, so that a rank may share None.
        return [collective.broadcast((value,) if root == self.rank else None, root)[0] for root in range(self.world_size)]

    def gather(self, value: Any) -> list[Any] | None:
        """Every rank's value on rank 0; None elsewhere. A broadcast reaches every rank, so the others
        drop each value as it arrives and never hold more than one rank's share."""
        from xgboost import collective

        kept = []
        for root in range(self.world_size):
            received = collective.broadcast((value,) if root == self.rank else None, root)[0]
            if self.rank == 0:
                kept.append(received)
            del received
        return kept if self.rank == 0 else None
