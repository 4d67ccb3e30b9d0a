"""Bulkhead, Timeout and Fallback on a FakeClock."""

from __future__ import annotations

import asyncio
import threading

import pytest

import seawall
from seawall.testing import FakeClock, capture_events


def test_bulkhead_fails_fast_when_full_without_a_queue() -> None:
    bulkhead = seawall.Bulkhead("db", max_concurrent=1, clock=FakeClock())
    inner: list[str] = []

    def nested() -> None:
        with pytest.raises(seawall.BulkheadFull) as info:
            bulkhead.call(inner.append, "never")
        assert info.value.name == "db"
        assert "queue is full" in str(info.value)

    bulkhead.call(nested)
    assert inner == []
    stats = bulkhead.statistics()
    assert (stats.in_flight, stats.admitted, stats.rejected) == (0, 1, 1)


def test_bulkhead_queues_threads_fifo_and_hands_slots_over() -> None:
    bulkhead = seawall.Bulkhead("db", max_concurrent=1, max_queue=2, clock=FakeClock())
    gate = threading.Event()
    order: list[int] = []
    entered = threading.Condition()

    def hold() -> None:
        with entered:
            entered.notify_all()
        gate.wait(timeout=10)

    def queued(n: int) -> None:
        bulkhead.call(order.append, n)

    holder = threading.Thread(target=bulkhead.call, args=(hold,))
    with entered:
        holder.start()
        assert entered.wait(timeout=10)
    waiters = []
    for n in (1, 2):
        t = threading.Thread(target=queued, args=(n,))
        t.start()
        waiters.append(t)
        while bulkhead.statistics().queued < n:
            threading.Event().wait(0.0005)
    with pytest.raises(seawall.BulkheadFull):  # queue of 2 is full
        bulkhead.call(order.append, 3)
    gate.set()
    holder.join()
    for t in waiters:
        t.join()
    assert order == [1, 2]
    assert bulkhead.statistics().in_flight == 0


def test_bulkhead_async_waiters_and_cancellation_do_not_leak_slots() -> None:
    bulkhead = seawall.Bulkhead("api", max_concurrent=2, max_queue=10, clock=FakeClock())

    async def main() -> None:
        gate = asyncio.Event()
        peak = 0
        running = 0

        async def work() -> None:
            nonlocal peak, running
            running += 1
            peak = max(peak, running)
            await gate.wait()
            running -= 1

        tasks = [asyncio.create_task(bulkhead.acall(work)) for _ in range(6)]
        await asyncio.sleep(0)
        assert bulkhead.statistics().queued == 4
        tasks[5].cancel()  # a queued waiter gives up
        tasks[0].cancel()  # a running call is cancelled
        await asyncio.sleep(0)
        gate.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert sum(isinstance(r, asyncio.CancelledError) for r in results) == 2
        assert peak == 2

    asyncio.run(main())
    stats = bulkhead.statistics()
    assert (stats.in_flight, stats.queued) == (0, 0)


def test_bulkhead_wait_is_bounded_by_the_deadline() -> None:
    bulkhead = seawall.Bulkhead("api", max_concurrent=1, max_queue=1)

    async def main() -> None:
        gate = asyncio.Event()
        holder = asyncio.create_task(bulkhead.acall(gate.wait))
        await asyncio.sleep(0)
        with seawall.deadline(0.0), pytest.raises(seawall.BulkheadFull, match="timed out"):
            await bulkhead.acall(asyncio.sleep, 0)
        gate.set()
        await holder

    asyncio.run(main())
    assert bulkhead.statistics().in_flight == 0


def test_bulkhead_validation() -> None:
    with pytest.raises(seawall.ConfigError):
        seawall.Bulkhead("x", max_concurrent=0)
    with pytest.raises(seawall.ConfigError):
        seawall.Bulkhead("x", max_queue=-1)


def test_sync_timeout_is_cooperative_and_raises_after_an_overrun() -> None:
    clock = FakeClock()
    seen: list[float | None] = []

    def slow() -> str:
        seen.append(seawall.remaining())
        clock.advance(2.0)
        return "late"

    with capture_events() as events, pytest.raises(seawall.DeadlineExceeded) as info:
        seawall.Timeout(1.0, clock=clock).call(slow)
    assert seen == [1.0]  # I/O below saw the budget
    assert info.value.timeout == 1.0
    assert isinstance(info.value, TimeoutError)
    assert any(isinstance(e, seawall.TimedOut) for e in events)


def test_timeout_never_extends_an_enclosing_deadline() -> None:
    clock = FakeClock()
    with seawall.deadline(0.5, clock=clock):
        assert seawall.Timeout(10.0, clock=clock).call(seawall.remaining) == 0.5


def test_spent_deadline_raises_without_calling() -> None:
    clock = FakeClock()
    called = []
    with seawall.deadline(1.0, clock=clock):
        clock.advance(1.0)
        with pytest.raises(seawall.DeadlineExceeded):
            seawall.Timeout(5.0, clock=clock).call(called.append, 1)
    assert called == []


def test_socket_timeout_at_the_deadline_becomes_deadline_exceeded() -> None:
    clock = FakeClock()

    def times_out() -> None:
        clock.advance(1.0)
        raise TimeoutError("read timed out")

    with pytest.raises(seawall.DeadlineExceeded) as info:
        seawall.Timeout(1.0, clock=clock).call(times_out)
    assert isinstance(info.value.__cause__, TimeoutError)


def test_async_timeout_cancels_the_awaited_work() -> None:
    # Real loop timers with a zero-length budget: the alarm fires at the first suspension.
    cancelled = False

    async def hang() -> None:
        nonlocal cancelled
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled = True
            raise

    async def main() -> None:
        with pytest.raises(seawall.DeadlineExceeded):
            await seawall.Timeout(0.001).acall(hang)
        task = asyncio.current_task()
        assert task is not None
        assert task.cancelling() == 0  # our cancellation was fully taken back

    asyncio.run(main())
    assert cancelled


def test_async_timeout_on_a_fake_clock_detects_overruns() -> None:
    clock = FakeClock()

    async def slow() -> str:
        await clock.asleep(3.0)
        return "late"

    with pytest.raises(seawall.DeadlineExceeded):
        asyncio.run(seawall.Timeout(1.0, clock=clock).acall(slow))


def test_external_cancellation_is_not_turned_into_a_timeout() -> None:
    async def main() -> None:
        task = asyncio.create_task(seawall.Timeout(10.0).acall(asyncio.sleep, 10))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())


def test_fallback_value_and_factory() -> None:
    def down() -> list[str]:
        raise ConnectionError

    with capture_events() as events:
        assert seawall.Fallback([]).call(down) == []
    assert isinstance(events[0], seawall.FallbackUsed)
    factory = seawall.Fallback(factory=lambda exc: [type(exc).__name__])
    assert factory.call(down) == ["ConnectionError"]


def test_fallback_only_catches_what_on_matches() -> None:
    def invalid() -> None:
        raise ValueError

    with pytest.raises(ValueError):
        seawall.Fallback(None, on=ConnectionError).call(invalid)


def test_fallback_async_factory() -> None:
    async def down() -> str:
        raise ConnectionError

    async def cached(exc: BaseException) -> str:
        return "cached"

    assert asyncio.run(seawall.Fallback(factory=cached).acall(down)) == "cached"


def test_fallback_requires_exactly_one_source() -> None:
    with pytest.raises(seawall.ConfigError):
        seawall.Fallback()
    with pytest.raises(seawall.ConfigError):
        seawall.Fallback(1, factory=lambda e: 2)
