"""The event engine: virtual time, ordering, and processes stepped without a loop."""

from __future__ import annotations

from collections.abc import Generator
from heapq import heappush
from typing import Any

import pytest

from seawall._errors import ConfigError
from seawall.sim import Engine, Signal


def test_actions_run_in_time_order_and_ties_in_scheduling_order() -> None:
    engine = Engine()
    seen: list[tuple[float, str]] = []
    engine.at(2.0, lambda tag: seen.append((engine.now, tag)), "late")
    engine.at(1.0, lambda tag: seen.append((engine.now, tag)), "first")
    engine.at(1.0, lambda tag: seen.append((engine.now, tag)), "second")
    engine.after(0.5, lambda tag: seen.append((engine.now, tag)), "early")
    assert engine.run(until=10.0) == 4
    assert seen == [(0.5, "early"), (1.0, "first"), (1.0, "second"), (2.0, "late")]


def test_what_is_due_now_waits_in_the_ready_queue_not_the_heap() -> None:
    engine = Engine()
    engine.run(until=1.0)
    engine.at(1.0, print)
    engine.after(0.0, print)
    assert (len(engine.heap), len(engine.ready)) == (0, 2)


def test_one_instant_runs_heap_and_ready_entries_in_scheduling_order() -> None:
    engine = Engine()
    seen: list[str] = []

    def first(_: object) -> None:
        seen.append("first")
        engine.at(engine.now, seen.append, "made now")  # the ready queue
        # A hot path pushing for "now" itself (a service time of zero): on the heap.
        heappush(engine.heap, (engine.now, next(engine.seq), seen.append, "pushed now"))

    engine.at(1.0, first)
    engine.at(1.0, seen.append, "second")  # scheduled before "made now": runs before it
    engine.at(2.0, seen.append, "later")
    engine.run(until=5.0)
    assert seen == ["first", "second", "made now", "pushed now", "later"]


def test_run_stops_at_until_keeps_later_actions_and_ends_the_clock_there() -> None:
    engine = Engine()
    seen: list[float] = []
    engine.at(5.0, seen.append, 5.0)
    engine.at(5.0000001, seen.append, 6.0)
    assert engine.run(until=5.0) == 1
    assert engine.now == 5.0
    assert engine.run(until=7.0) == 1
    assert seen == [5.0, 6.0]
    assert engine.now == 7.0
    assert engine.events == 2


def test_the_past_is_never_scheduled() -> None:
    engine = Engine()
    engine.run(until=3.0)
    seen: list[float] = []
    engine.at(1.0, lambda _: seen.append(engine.now))
    engine.after(-2.0, lambda _: seen.append(engine.now))
    engine.run(until=4.0)
    assert seen == [3.0, 3.0]


@pytest.mark.parametrize("until", [float("nan"), True, "5", -1.0])
def test_run_refuses_a_bad_horizon(until: Any) -> None:
    with pytest.raises(ConfigError, match="until"):
        Engine().run(until=until)


def test_generator_and_coroutine_processes_sleep_and_wait_on_signals() -> None:
    engine = Engine()
    ready = Signal(engine)
    trace: list[tuple[str, float, object]] = []

    def producer() -> Generator[Any, Any, str]:
        yield 1.5
        trace.append(("fire", engine.now, None))
        ready.fire("payload")
        yield 1
        return "produced"

    async def consumer() -> str:
        value = await ready
        trace.append(("got", engine.now, value))
        await engine.sleep(2.0)
        trace.append(("slept", engine.now, None))
        return "consumed"

    first = engine.spawn(producer())
    second = engine.spawn(consumer())
    engine.run(until=10.0)
    assert trace == [("fire", 1.5, None), ("got", 1.5, "payload"), ("slept", 3.5, None)]
    assert (first.done.fired, first.done.value) == (True, "produced")
    assert (second.done.fired, second.done.value) == (True, "consumed")


def test_a_signal_fires_once_and_late_waiters_still_hear_it() -> None:
    engine = Engine()
    signal = Signal(engine)
    heard: list[object] = []
    signal.fire(1)
    signal.fire(2)
    signal.wait(heard.append)
    engine.run(until=0.0)
    assert heard == [1]


def test_a_process_waiting_on_something_else_is_refused_by_name() -> None:
    engine = Engine()

    def confused() -> Generator[Any, Any, None]:
        yield "soon"

    engine.spawn(confused())
    with pytest.raises(TypeError, match="'soon'"):
        engine.run(until=1.0)


def test_a_model_stuck_at_one_instant_is_refused_instead_of_running_forever() -> None:
    engine = Engine()

    def again(_: object) -> None:
        engine.at(engine.now, again, None)

    engine.at(0.5, again, None)
    with pytest.raises(ConfigError, match=r"virtual time does not advance.*t=0\.5"):
        engine.run(10.0, stall=1_000)


def test_many_actions_spread_over_time_are_not_a_stall() -> None:
    engine = Engine()
    ran: list[float] = []
    for step in range(5_000):
        engine.at(step * 0.001, lambda _: ran.append(engine.now), None)
    assert engine.run(10.0, stall=1_000) == 5_000
    assert len(ran) == 5_000
