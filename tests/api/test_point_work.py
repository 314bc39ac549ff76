"""Point work (reading one job, queueing one): on a server database in threads of its own, off the event loop, where
answers and errors come back to the request, items run in arrival order, and a request cancelled mid-work waits until
its work is done; on SQLite in place."""

import asyncio
import threading
import time

import pytest
from sqlalchemy import create_engine

from railyard.api.point_work import PointWork, threads_for


def test_results_and_errors_come_back_from_another_thread():
    work = PointWork(1)

    async def main():
        loop_thread = threading.get_ident()
        assert await work.run(lambda a, b: (a + b, threading.get_ident() != loop_thread), 2, 3) == (5, True)
        with pytest.raises(KeyError, match="missing"):
            await work.run({}.__getitem__, "missing")

    asyncio.run(main())
    work.close()


def test_items_run_one_at_a_time_in_arrival_order():
    work = PointWork(1)
    order, running = [], []

    def item(i):
        running.append(i)
        assert len(running) == 1, "two items at once"
        time.sleep(0.002)
        order.append(i)
        running.remove(i)
        return i

    async def main():
        return await asyncio.gather(*(work.run(item, i) for i in range(50)))

    assert asyncio.run(main()) == list(range(50))
    assert order == list(range(50))
    work.close()


def test_a_cancelled_request_waits_for_its_work_before_it_ends():
    work = PointWork(1)
    started, finished = threading.Event(), threading.Event()

    def slow():
        started.set()
        time.sleep(0.3)
        finished.set()

    async def main():
        task = asyncio.ensure_future(work.run(slow))
        while not started.is_set():
            await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return finished.is_set()

    assert asyncio.run(main()), "the request ended while its work still ran"
    work.close()


def test_closed_threads_start_again_for_the_next_item():
    work = PointWork(2)

    async def once():
        return await work.run(threading.current_thread)

    first = asyncio.run(once())
    work.close()
    assert not first.is_alive()
    assert asyncio.run(once()).is_alive()
    work.close()


def test_work_without_threads_runs_in_place():
    work = PointWork(0)

    async def main():
        loop_thread = threading.get_ident()
        assert await work.run(lambda a: (a, threading.get_ident() == loop_thread), 7) == (7, True)
        with pytest.raises(KeyError, match="missing"):
            await work.run({}.__getitem__, "missing")

    asyncio.run(main())
    work.close()


def test_sqlite_runs_in_place_and_a_server_database_gets_its_pool():
    assert threads_for(create_engine("sqlite://")) == 0
    assert threads_for(create_engine("postgresql+psycopg://u@localhost/db", pool_size=20)) == 20
