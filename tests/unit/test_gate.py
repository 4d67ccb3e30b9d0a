"""Gate cores decide and record; the driver waits on the clock and emits what they recorded."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

import seawall
from seawall._gate import Wait, park_thread
from seawall.testing import FakeClock, capture_events


def full_bulkhead() -> Any:
    bulkhead = seawall.Bulkhead("db", max_concurrent=1, max_queue=0, clock=FakeClock())
    assert bulkhead._enter(park_thread) is None  # the one slot, taken
    return bulkhead


def full_shedder() -> Any:
    shedder = seawall.LoadShedder("api", limit=1, max_queue=0, clock=FakeClock())
    assert shedder._enter(park_thread) is not None  # the one permit, taken
    return shedder


def refusing_throttle() -> Any:
    throttle = seawall.AdaptiveThrottle("backend", clock=FakeClock())
    for _ in range(100):  # the backend refused everything: locally refuse nearly all
        ticket = throttle._enter(park_thread)
        if isinstance(ticket, BaseException):
            continue
        throttle._leave(ticket, seawall.Rejected("backend", "busy"))
    throttle._events.clear()
    return throttle


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (full_bulkhead, seawall.BulkheadFull),
        (full_shedder, seawall.LoadShed),
        (refusing_throttle, seawall.LoadShed),
    ],
    ids=["bulkhead", "load_shedder", "adaptive_throttle"],
)
def test_a_refusal_is_decided_and_recorded_by_the_core_and_emitted_by_the_driver(
    make: Callable[[], Any], error: type[Exception]
) -> None:
    core = make()
    with capture_events() as seen:
        refusal = None
        for _ in range(20):  # the throttle refuses with a probability below 1
            refusal = core._enter(park_thread)
            if isinstance(refusal, BaseException):
                break
        assert isinstance(refusal, error)
        assert seen == []  # the core decided and recorded, and emitted nothing
        assert [type(e) for e in core._events] == [seawall.CallRejected]
        core._events.clear()
        with pytest.raises(error):
            core.call(lambda: "never")
        assert [type(e) for e in seen] == [seawall.CallRejected]  # the driver emitted it
        assert core._events == []


def test_a_queued_call_is_a_wait_decision_the_driver_resolves_on_the_clock() -> None:
    clock = FakeClock()
    bulkhead = seawall.Bulkhead("db", max_concurrent=1, max_queue=1, max_wait=5.0, clock=clock)
    assert bulkhead._enter(park_thread) is None
    wait = bulkhead._enter(park_thread)
    assert isinstance(wait, Wait)
    assert wait.seconds == 5.0
    assert clock.now() == 0.0  # deciding did not wait
    bulkhead.release()  # the slot is handed to the queued call
    assert wait.event is not None
    assert wait.event.is_set()
    assert bulkhead._waited(wait, True) is None


def test_timeout_and_fallback_events_come_from_the_driver_in_order() -> None:
    async def main() -> list[type[seawall.Event]]:
        clock = FakeClock()
        pipeline = seawall.Pipeline(
            seawall.Fallback("cached", clock=clock), seawall.Timeout(0.5, clock=clock)
        )

        async def slow() -> str:
            await clock.asleep(10.0)
            return "late"

        with capture_events() as seen:
            assert await pipeline.acall(slow) == "cached"
        return [type(e) for e in seen]

    assert asyncio.run(main()) == [seawall.TimedOut, seawall.FallbackUsed]
