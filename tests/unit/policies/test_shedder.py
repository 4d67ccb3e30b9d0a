"""LoadShedder: priority shares, the CoDel queue, forms, cancellation, events."""

from __future__ import annotations

import asyncio
import threading
from contextlib import ExitStack

import pytest

import seawall
from seawall import CallRejected
from seawall.policies._admission import GRANTED, QUEUED, SHED, AdmissionState, Waiter
from seawall.testing import FakeClock, capture_events

CRITICAL, HIGH, NORMAL, LOW = range(4)


def state(limit: int = 10, *, max_queue: int = 4, lifo: bool = False) -> AdmissionState:
    return AdmissionState(
        seawall.FixedLimit(limit),
        max_concurrent=limit + 2,
        shares=(1.0, 0.8, 0.5),
        max_queue=max_queue,
        queue_target=0.005,
        queue_interval=0.100,
        lifo=lifo,
    )


def fill(s: AdmissionState, n: int, rank: int = CRITICAL) -> None:
    for _ in range(n):
        assert s.try_admit(rank, 0.0, None)[0]


def queue(s: AdmissionState, rank: int, now: float) -> Waiter:
    admitted, wait, _ = s.try_admit(rank, now, None)
    assert not admitted
    assert wait > 0
    waiter = Waiter(rank, now, lambda: None)
    s.enqueue(waiter)
    return waiter


def test_lower_priorities_are_shed_first_and_critical_only_at_the_hard_maximum() -> None:
    s = state(10)
    assert [s.threshold(r) for r in range(4)] == [12, 10, 8, 5]
    fill(s, 5)
    assert not s.can_start(LOW)
    assert s.can_start(NORMAL)
    fill(s, 3)
    assert not s.can_start(NORMAL)
    assert s.can_start(HIGH)
    fill(s, 2)
    assert not s.can_start(HIGH)
    assert s.can_start(CRITICAL)
    fill(s, 2)
    assert not s.can_start(CRITICAL)


def test_queued_calls_start_most_important_first() -> None:
    s = state(2)
    fill(s, 2, HIGH)
    low = queue(s, LOW, 0.0)
    high = queue(s, HIGH, 0.01)
    woken = s.release(0.02)
    assert woken == [high]
    assert high.state == GRANTED
    assert low.state == QUEUED


def test_a_standing_queue_bounds_the_wait_to_the_target() -> None:
    s = state(1, max_queue=10)
    fill(s, 1, HIGH)
    assert s.try_admit(HIGH, 0.0, None)[1] == pytest.approx(0.100)
    first = queue(s, HIGH, 0.0)
    # Non-empty for longer than the interval: a standing queue; new work waits 5 ms at most.
    assert s.try_admit(HIGH, 0.150, None)[1] == pytest.approx(0.005)
    late = queue(s, HIGH, 0.150)
    # At dequeue, work that already waited beyond the target is shed (CoDel), the next starts.
    woken = s.release(0.152)
    assert first.state == SHED
    assert late.state == GRANTED
    assert woken == [first, late]


def test_the_queue_wait_never_exceeds_the_deadline() -> None:
    s = state(1)
    fill(s, 1, HIGH)
    assert s.try_admit(HIGH, 0.0, 0.02)[1] == pytest.approx(0.02)
    assert s.try_admit(HIGH, 0.0, 0.0) == (False, 0.0, [])


def test_lifo_mode_serves_the_newest_first_under_a_standing_queue() -> None:
    s = state(1, max_queue=10, lifo=True)
    fill(s, 1, HIGH)
    queue(s, HIGH, 0.0)
    older = queue(s, HIGH, 0.200)
    newer = queue(s, HIGH, 0.201)
    assert s.release(0.202)[-1] is newer
    assert older.state == QUEUED


def test_a_full_queue_evicts_a_less_important_waiter_for_a_more_important_call() -> None:
    s = state(1, max_queue=2)
    fill(s, 1, HIGH)
    queue(s, NORMAL, 0.0)
    low = queue(s, LOW, 0.0)
    admitted, wait, evicted = s.try_admit(HIGH, 0.0, None)
    assert not admitted
    assert wait > 0
    assert evicted == [low]
    assert low.state == SHED
    s.enqueue(Waiter(HIGH, 0.0, lambda: None))
    assert [w.rank for w in s.try_admit(HIGH, 0.0, None)[2]] == [NORMAL]
    s.enqueue(Waiter(HIGH, 0.0, lambda: None))
    # ...but never a waiter as important as the newcomer.
    assert s.try_admit(HIGH, 0.0, None) == (False, 0.0, [])
    assert s.try_admit(LOW, 0.0, None) == (False, 0.0, [])


def test_a_waiter_that_gives_up_after_being_granted_hands_its_slot_on() -> None:
    s = state(1)
    fill(s, 1, HIGH)
    first = queue(s, HIGH, 0.0)
    second = queue(s, HIGH, 0.0)
    s.release(0.001)
    assert first.state == GRANTED
    assert s.abandon(first, 0.002, "cancelled") == [second]
    assert second.state == GRANTED
    assert s.inflight == 1
    assert s.queued == 0


def test_refusal_raises_load_shed_with_priority_and_retry_after_and_emits_an_event() -> None:
    clock = FakeClock()
    shedder = seawall.LoadShedder("api", limit=4, max_queue=0, clock=clock)
    with ExitStack() as stack:
        for _ in range(2):
            stack.enter_context(shedder.admit("low"))
        with capture_events() as events, pytest.raises(seawall.LoadShed) as caught:
            shedder.admit("low").__enter__()
        stack.enter_context(shedder.admit("normal"))  # normal still has room
    assert caught.value.priority == "low"
    assert caught.value.retry_after == pytest.approx(0.100)  # no round trip measured yet
    assert isinstance(caught.value, seawall.Rejected)
    [event] = events
    assert isinstance(event, CallRejected)
    assert (event.policy, event.name, event.retry_after) == ("load_shedder", "api", 0.100)
    stats = shedder.statistics()
    assert stats.inflight == 0
    assert stats.shed["low"] == 1
    assert stats.admitted["low"] == 2


def test_policy_forms_take_the_priority_from_the_context() -> None:
    shedder = seawall.LoadShedder("api", limit=4, max_queue=0, clock=FakeClock())
    with shedder.admit("high"), shedder.admit("high"):
        assert shedder.call(lambda: "normal fits") == "normal fits"
        with seawall.priority("low"), pytest.raises(seawall.LoadShed) as caught:
            shedder.call(lambda: "never")
        assert caught.value.priority == "low"

        @seawall.Pipeline(shedder)
        async def handler() -> str:
            return "ok"

        with seawall.priority("critical"):
            assert asyncio.run(handler()) == "ok"
    assert seawall.current_priority() is None


def test_round_trips_feed_the_adaptive_limit() -> None:
    clock = FakeClock()
    limit = seawall.AIMDLimit(initial=10, latency_threshold=1.0)
    shedder = seawall.LoadShedder("api", limit=limit, clock=clock)
    with shedder.admit("high"):
        clock.advance(5.0)  # far slower than the threshold
    assert shedder.limit == 9
    clock.advance(10.0)
    with pytest.raises(TimeoutError), shedder.admit("high"):
        raise TimeoutError
    clock.advance(10.0)
    with pytest.raises(ValueError), shedder.admit("high"):
        raise ValueError("not a load signal")
    assert shedder.limit == 8  # the timeout backed off; the ValueError was not sampled
    assert shedder.statistics().smoothed_rtt == pytest.approx(5.0)


def test_async_waiter_is_granted_when_a_slot_frees() -> None:
    async def main() -> list[str]:
        shedder = seawall.LoadShedder("api", limit=1, queue_interval=30.0, queue_target=1.0)
        order: list[str] = []

        async def call(name: str, hold: asyncio.Event) -> None:
            async with shedder.admit("high"):
                order.append(name)
                await hold.wait()

        first_hold, second_hold = asyncio.Event(), asyncio.Event()
        first = asyncio.create_task(call("first", first_hold))
        await asyncio.sleep(0)
        second = asyncio.create_task(call("second", second_hold))
        await asyncio.sleep(0)
        assert shedder.statistics().queued == 1
        first_hold.set()
        second_hold.set()
        await asyncio.gather(first, second)
        assert shedder.statistics().inflight == 0
        return order

    assert asyncio.run(main()) == ["first", "second"]


def test_async_waiter_times_out_on_the_injected_clock() -> None:
    clock = FakeClock()

    async def main() -> None:
        shedder = seawall.LoadShedder("api", limit=1, clock=clock)
        async with shedder.admit("high"):
            with capture_events() as events, pytest.raises(seawall.LoadShed):
                async with shedder.admit("high"):
                    pass
        assert clock.now() == pytest.approx(0.100)  # exactly the queue interval
        assert [type(e) for e in events] == [CallRejected]
        assert shedder.statistics().queued == 0

    asyncio.run(main())


def test_cancelled_async_waiter_forgets_its_place() -> None:
    async def main() -> None:
        shedder = seawall.LoadShedder("api", limit=1, queue_interval=30.0, queue_target=1.0)
        async with shedder.admit("high"):
            waiter = asyncio.create_task(shedder.admit("high").__aenter__())
            await asyncio.sleep(0)
            assert shedder.statistics().queued == 1
            waiter.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiter
            assert shedder.statistics().queued == 0
        stats = shedder.statistics()
        assert stats.inflight == 0
        assert stats.queued == 0

    asyncio.run(main())


def test_cancelled_async_waiter_that_was_already_granted_releases_the_slot() -> None:
    async def main() -> None:
        shedder = seawall.LoadShedder("api", limit=1, queue_interval=30.0, queue_target=1.0)
        holder = shedder.admit("high")
        await holder.__aenter__()
        waiter = asyncio.create_task(shedder.admit("high").__aenter__())
        await asyncio.sleep(0)
        await holder.__aexit__(None, None, None)  # grants the slot to the waiter...
        waiter.cancel()  # ...which is cancelled before it could run
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert shedder.statistics().inflight == 0

    asyncio.run(main())


def test_thread_waiter_is_granted_when_a_slot_frees() -> None:
    shedder = seawall.LoadShedder("api", limit=1, queue_interval=30.0, queue_target=1.0)
    started = threading.Event()
    result: list[str] = []
    with shedder.admit("high"):

        def other() -> None:
            started.set()
            result.append(shedder.call(lambda: "ran"))

        thread = threading.Thread(target=other)
        thread.start()
        started.wait()
        while shedder.statistics().queued == 0:
            threading.Event().wait(0.0001)
    thread.join()
    assert result == ["ran"]


def test_sync_waiter_times_out_on_the_injected_clock() -> None:
    clock = FakeClock()
    shedder = seawall.LoadShedder("api", limit=1, clock=clock)
    with shedder.admit("critical"), seawall.deadline(0.030, clock=clock):
        with pytest.raises(seawall.LoadShed):
            shedder.call(lambda: None)
    assert clock.now() == pytest.approx(0.030)  # the deadline, not the 100 ms interval


@pytest.mark.parametrize(
    "kwargs",
    [
        {"limit": 0},
        {"limit": 10, "max_concurrent": 5},
        {"max_queue": -1},
        {"queue_target": 0.2, "queue_interval": 0.1},
        {"shares": {"low": 0.9, "normal": 0.5}},
        {"shares": {"critical": 0.5}},
        {"default_priority": "urgent"},
    ],
)
def test_bad_parameters_raise_config_error(kwargs: dict[str, object]) -> None:
    with pytest.raises(seawall.ConfigError):
        seawall.LoadShedder("api", **kwargs)  # type: ignore[arg-type]


def test_unknown_priority_is_a_config_error() -> None:
    with pytest.raises(seawall.ConfigError):
        seawall.LoadShedder("api").admit("urgent")


def test_try_enter_admits_only_when_there_is_room_and_never_waits() -> None:
    clock = FakeClock()
    shedder = seawall.LoadShedder("t", limit=2, max_queue=4, clock=clock)
    first, second, third = (shedder.admit("high") for _ in range(3))
    assert first.try_enter()
    assert second.try_enter()
    assert not third.try_enter()  # full: left unentered, nothing queued
    assert shedder.statistics().inflight == 2
    assert shedder.statistics().queued == 0
    with pytest.raises(RuntimeError):
        first.try_enter()  # an admission is entered once
    first.__exit__(None, None, None)
    with third:  # the ordinary path still works on an admission try_enter refused
        assert shedder.statistics().inflight == 2
    second.__exit__(None, None, None)
    assert shedder.statistics().inflight == 0


def test_try_enter_feeds_an_adaptive_limit_like_with() -> None:
    clock = FakeClock()
    limit = seawall.AIMDLimit(initial=10, latency_threshold=1.0)
    shedder = seawall.LoadShedder("api", limit=limit, clock=clock)
    admission = shedder.admit("high")
    assert admission.try_enter()
    clock.advance(5.0)  # far slower than the threshold
    admission.__exit__(None, None, None)
    assert shedder.limit == 9  # sampled, exactly as `with shedder.admit()` is
    assert shedder.statistics().smoothed_rtt == pytest.approx(5.0)
