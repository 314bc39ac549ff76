"""The failed-token throttle: a burst, then waiting, and trying while shut out keeps the client shut out."""

from __future__ import annotations

from railyard.api import throttle as throttle_module
from railyard.api.throttle import FailureThrottle


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_of_failures_then_the_client_waits(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(throttle_module.time, "monotonic", clock)
    throttle = FailureThrottle(burst=3, per_second=1.0)
    for _ in range(3):
        assert throttle.retry_after("10.0.0.1") is None
        throttle.failed("10.0.0.1")
    assert throttle.retry_after("10.0.0.1") >= 1
    assert throttle.retry_after("10.0.0.2") is None  # another client is not held back
    clock.now += 60
    assert throttle.retry_after("10.0.0.1") is None


def test_trying_while_shut_out_keeps_the_client_shut_out(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(throttle_module.time, "monotonic", clock)
    throttle = FailureThrottle(burst=3, per_second=1.0)
    for _ in range(3):
        throttle.failed("10.0.0.1")
    for _ in range(20):  # one try every half second for ten seconds
        assert throttle.retry_after("10.0.0.1") is not None
        clock.now += 0.5
    clock.now += 3.5  # and once it stops, it waits out what it owes (at most twice the burst)
    assert throttle.retry_after("10.0.0.1") is None


def test_the_clients_remembered_are_bounded(monkeypatch):
    monkeypatch.setattr(throttle_module, "MAX_CLIENTS", 10)
    throttle = FailureThrottle(burst=1, per_second=0.001)
    for i in range(100):
        throttle.failed(f"10.0.0.{i}")
    assert len(throttle._buckets) == 10
    assert throttle.retry_after("10.0.0.99") is not None
