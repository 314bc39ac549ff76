"""Fair share: which queued jobs the dispatcher starts now, taken fairly across owners. Pure functions, no I/O.

Each compute resource is a class of its own, with its own slots. Within a class the order of precedence:

1. The class takes no more jobs than its free slots (its concurrency less the jobs running there), and an
   owner with as many running jobs in the class as `running_per_owner` allows is skipped.
2. The owner with the fewest running jobs in the class, per its weight (running ÷ weight), goes first: an
   owner of weight 2 holds two slots for every one an owner of weight 1 holds before it yields.
3. Ties: the owner served least recently in the class (one never served first).
4. Ties: the owner whose oldest queued job is the oldest. An owner's own jobs go oldest first.

A job taken counts as running for its owner and makes it the owner served most recently, so the slots of
one turn go round-robin across owners. A flood of queued jobs from one owner therefore delays another
owner's job by at most the jobs already running: the next free slot goes to the owner with fewer running,
or served less recently. The owner is the job's owner (a person or a team), not whoever submitted it.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

Key = tuple[str, str]  # (compute resource, owner)


@dataclass(frozen=True)
class Queued:
    job_id: str
    owner: str
    resource: str


@dataclass(frozen=True)
class Limits:
    """concurrency: slots per compute resource (absent: 1); running_per_owner: the most jobs one owner runs at
    once in a compute resource (absent: no cap below the concurrency); weights: per owner (absent: 1)."""

    concurrency: Mapping[str, int] = field(default_factory=dict)
    running_per_owner: Mapping[str, int] = field(default_factory=dict)
    weights: Mapping[str, float] = field(default_factory=dict)

    def slots(self, resource: str) -> int:
        return self.concurrency.get(resource, 1)

    def owner_cap(self, resource: str) -> int:
        return self.running_per_owner.get(resource, self.slots(resource))

    def weight(self, owner: str) -> float:
        return self.weights.get(owner, 1.0)


def to_dispatch(queued: Sequence[Queued], running: Mapping[Key, int], served: Mapping[Key, float],
                limits: Limits) -> list[Queued]:
    """The queued jobs to dispatch now, in the order to dispatch them.

    `queued`: the jobs waiting, oldest first; `running`: how many jobs each (resource, owner) runs;
    `served`: when each (resource, owner) last had a job dispatched (any increasing number), absent if never.
    """
    waiting: dict[str, dict[str, deque[Queued]]] = {}
    for job in queued:
        waiting.setdefault(job.resource, {}).setdefault(job.owner, deque()).append(job)
    running, served = Counter(running), dict(served)
    latest = max(served.values(), default=0.0)
    chosen: list[Queued] = []
    for resource, owners in waiting.items():
        free = limits.slots(resource) - sum(n for (r, _), n in running.items() if r == resource)
        cap = limits.owner_cap(resource)
        oldest_first = {owner: i for i, owner in enumerate(owners)}

        def precedence(owner: str) -> tuple[float, float, int]:
            key = (resource, owner)
            return running[key] / limits.weight(owner), served.get(key, -math.inf), oldest_first[owner]

        while free > 0:
            eligible = [owner for owner, jobs in owners.items() if jobs and running[(resource, owner)] < cap]
            if not eligible:
                break
            owner = min(eligible, key=precedence)
            chosen.append(owners[owner].popleft())
            running[(resource, owner)] += 1
            latest += 1
            served[(resource, owner)] = latest
            free -= 1
    return chosen
