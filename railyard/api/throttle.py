"""Failed sign-ins per client: a burst is allowed, then every try waits (429) until the bucket refills.

A client is its network address (behind a trusted proxy, the address the
proxy reports). While a client is throttled its tokens are not even looked
at, and each try counts against it, so guessing stays slow whatever it guesses. At most `MAX_CLIENTS` are
remembered; beyond that the longest quiet ones are forgotten.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict

MAX_CLIENTS = 10_000


class FailureThrottle:
    def __init__(self, burst: int, per_second: float):
        self.burst = burst
        self.per_second = per_second
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (failures owed, when)
        self._lock = threading.Lock()

    def _owed(self, client: str, now: float) -> float:
        owed, when = self._buckets.get(client, (0.0, now))
        return max(0.0, owed - (now - when) * self.per_second)

    def retry_after(self, client: str) -> int | None:
        """Seconds until `client` may try again, or None when it may try now. A try while it must wait counts as a
        failure too (up to twice the burst), so a client that keeps guessing stays shut out."""
        now = time.monotonic()
        with self._lock:
            owed = self._owed(client, now)
            if owed <= self.burst - 1:
                return None
            self._set(client, min(owed + 1, 2 * self.burst), now)
        return max(1, math.ceil((owed - self.burst + 1) / self.per_second))

    def failed(self, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._set(client, self._owed(client, now) + 1, now)

    def _set(self, client: str, owed: float, now: float) -> None:
        self._buckets[client] = (owed, now)
        self._buckets.move_to_end(client)
        while len(self._buckets) > MAX_CLIENTS:
            self._buckets.popitem(last=False)
