"""Every wait runs on the injected clock: on a FakeClock, exact virtual times, no real sleep.

Each test parks a caller (a queued bulkhead or load-shedder call, a coalesced follower, an
awaited call under a deadline) and checks that it gives up at exactly the virtual time
its limit says, and that the whole test takes a small fraction of a real second.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

import seawall
from seawall.testing import FakeClock

REAL_LIMIT = 0.2  # seconds of real time any of these tests may take


@contextmanager
def quick() -> Iterator[None]:
    start = time.perf_counter()
    yield
    assert time.perf_counter() - start < REAL_LIMIT


@contextmanager
def holding(call: Callable[[Callable[[], Any]], Any]) -> Iterator[None]:
    """A thread inside ``call`` (holding its slot) until the block ends."""
    inside, leave = threading.Event(), threading.Event()

    def hold() -> None:
        inside.set()
        leave.wait(10)

    thread = threading.Thread(target=call, args=(hold,))
    thread.start()
    assert inside.wait(10)
    try:
        yield
    finally:
        leave.set()
        thread.join(10)


async def parked(call: Callable[[Callable[[], Any]], Any]) -> tuple[asyncio.Task[Any], Any]:
    """A task inside ``call`` until the returned future is resolved."""
    leave: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def hold() -> None:
        await leave

    task = asyncio.ensure_future(call(hold))
    await asyncio.sleep(0)
    return task, leave


# -- Bulkhead(max_concurrent=1, max_queue=1, max_wait=5.0) -------------------------------


def bulkhead(clock: FakeClock) -> seawall.Bulkhead:
    return seawall.Bulkhead("db", max_concurrent=1, max_queue=1, max_wait=5.0, clock=clock)


def test_a_queued_thread_gives_up_at_exactly_max_wait() -> None:
    clock = FakeClock(100.0)
    bh = bulkhead(clock)
    with quick(), holding(bh.call):
        with pytest.raises(seawall.BulkheadFull, match="timed out"):
            bh.call(lambda: None)
        assert clock.now() == 105.0
    assert bh.statistics().rejected == 1


def test_a_queued_task_gives_up_at_exactly_max_wait() -> None:
    async def main() -> None:
        clock = FakeClock(100.0)
        bh = bulkhead(clock)
        holder, leave = await parked(bh.acall)
        with pytest.raises(seawall.BulkheadFull, match="timed out"):
            await bh.acall(asyncio.sleep, 0)
        assert clock.now() == 105.0
        leave.set_result(None)
        await holder

    with quick():
        asyncio.run(main())


def test_a_deadline_nearer_than_max_wait_ends_the_queue_wait() -> None:
    clock = FakeClock()
    bh = bulkhead(clock)
    with quick(), holding(bh.call), seawall.deadline(2.0, clock=clock):
        with pytest.raises(seawall.BulkheadFull):
            bh.call(lambda: None)
        assert clock.now() == 2.0


def retry_over_bulkhead(clock: FakeClock) -> tuple[seawall.Pipeline, seawall.Bulkhead]:
    # standard()'s shape: the Retry's total timeout, then the bulkhead, then an attempt
    # timeout. The slot is held through the bulkhead alone, under no deadline.
    bh = seawall.Bulkhead("db", max_concurrent=1, max_queue=1, clock=clock)
    retry = seawall.Retry(3, timeout=2.0, clock=clock)
    return seawall.Pipeline(retry, bh, seawall.Timeout(5.0, clock=clock)), bh


def test_the_operations_deadline_bounds_a_queued_thread_in_a_pipeline() -> None:
    clock = FakeClock()
    pipeline, bh = retry_over_bulkhead(clock)
    with quick(), holding(bh.call):
        with pytest.raises(seawall.BulkheadFull, match="timed out"):
            pipeline.call(lambda: None)
        assert clock.now() == 2.0


def test_the_operations_deadline_bounds_a_queued_task_in_a_pipeline() -> None:
    async def main() -> None:
        clock = FakeClock()
        pipeline, bh = retry_over_bulkhead(clock)
        holder, leave = await parked(bh.acall)
        with pytest.raises(seawall.BulkheadFull, match="timed out"):
            await pipeline.acall(asyncio.sleep, 0)
        assert clock.now() == 2.0
        leave.set_result(None)
        await holder

    with quick():
        asyncio.run(main())


# -- LoadShedder queue timeout --------------------------------------------------------


def shedder(clock: FakeClock) -> seawall.LoadShedder:
    # A fresh queue may wait queue_interval (2 s here); a standing one, queue_target.
    return seawall.LoadShedder(
        "api", limit=1, max_queue=1, queue_target=0.5, queue_interval=2.0, clock=clock
    )


def test_a_queued_thread_is_shed_at_exactly_the_queue_interval() -> None:
    clock = FakeClock(7.0)
    sh = shedder(clock)
    with quick(), holding(sh.call):
        with pytest.raises(seawall.LoadShed, match="queue time"):
            sh.call(lambda: None)
        assert clock.now() == 9.0


def test_a_queued_task_is_shed_at_exactly_the_queue_interval() -> None:
    async def main() -> None:
        clock = FakeClock(7.0)
        sh = shedder(clock)
        holder, leave = await parked(sh.acall)
        with pytest.raises(seawall.LoadShed, match="queue time"):
            await sh.acall(asyncio.sleep, 0)
        assert clock.now() == 9.0
        leave.set_result(None)
        await holder

    with quick():
        asyncio.run(main())


def test_a_deadline_nearer_than_the_queue_interval_ends_the_queue_wait() -> None:
    async def main() -> None:
        clock = FakeClock()
        sh = shedder(clock)
        holder, leave = await parked(sh.acall)
        async with seawall.deadline(0.75, clock=clock):
            with pytest.raises(seawall.LoadShed):
                await sh.acall(asyncio.sleep, 0)
        assert clock.now() == 0.75
        leave.set_result(None)
        await holder

    with quick():
        asyncio.run(main())


# -- a single-flight follower's timeout -----------------------------------------------


def test_a_follower_thread_stops_waiting_at_its_deadline() -> None:
    clock = FakeClock()
    flight = seawall.SingleFlight(clock=clock)
    with quick(), holding(lambda hold: flight.run("k", hold)):
        with seawall.deadline(1.5, clock=clock), pytest.raises(seawall.DeadlineExceeded):
            flight.run("k", lambda: "never")
        assert clock.now() == 1.5


def test_a_follower_task_stops_waiting_at_its_deadline() -> None:
    async def main() -> None:
        clock = FakeClock()
        flight = seawall.SingleFlight(clock=clock)
        leader, leave = await parked(lambda hold: flight.arun("k", hold))
        timeout = seawall.Timeout(1.5, clock=clock)
        follower = asyncio.ensure_future(timeout.acall(flight.arun, "k", asyncio.sleep, 0))
        await asyncio.sleep(0)
        await clock.asleep(10.0)  # time runs on; the follower's alarm fires on the way
        with pytest.raises(seawall.DeadlineExceeded) as info:
            await follower
        assert info.value.scope is not None
        assert info.value.scope.when == 1.5
        leave.set_result(None)
        await leader

    with quick():
        asyncio.run(main())


def test_a_follower_task_under_a_plain_deadline_scope_stops_waiting_at_it() -> None:
    # No alarm cancels this follower: its own wait on the clock is bounded by the scope.
    async def main() -> None:
        clock = FakeClock()
        flight = seawall.SingleFlight(clock=clock)
        leader, leave = await parked(lambda hold: flight.arun("k", hold))
        with seawall.deadline(1.5, clock=clock), pytest.raises(seawall.DeadlineExceeded):
            await asyncio.wait_for(flight.arun("k", asyncio.sleep, 0), 0.15)
        assert clock.now() == 1.5
        assert not leader.done()  # the leader's execution runs on for its own caller
        leave.set_result(None)
        await leader

    with quick():
        asyncio.run(main())


# -- a deadline cancelling an awaited call ----------------------------------------------


def test_a_deadline_cancels_an_awaited_call_at_exactly_its_time() -> None:
    async def main() -> None:
        clock = FakeClock(50.0)
        seen: list[float] = []

        async def slow() -> None:
            try:
                await clock.asleep(10.0)
            finally:
                seen.append(clock.now())

        with pytest.raises(seawall.DeadlineExceeded):
            await seawall.Timeout(0.25, clock=clock).acall(slow)
        assert seen == [50.25]

    with quick():
        asyncio.run(main())


def test_a_retry_total_timeout_cancels_an_awaited_attempt() -> None:
    async def main() -> None:
        clock = FakeClock()
        retry = seawall.Retry(3, timeout=2.0, clock=clock)

        async def slow() -> None:
            await clock.asleep(60.0)

        with pytest.raises(seawall.DeadlineExceeded):
            await retry.acall(slow)
        assert clock.now() == 2.0

    with quick():
        asyncio.run(main())


def test_a_sync_wait_under_a_deadline_ends_at_exactly_the_deadline() -> None:
    clock = FakeClock()
    with quick(), seawall.deadline(0.5, clock=clock):
        assert clock.wait(threading.Event(), seawall.remaining()) is False
        assert clock.now() == 0.5
