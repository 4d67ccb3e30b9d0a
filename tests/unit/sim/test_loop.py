"""asyncio's own primitives run on the world's virtual loop, on virtual time."""

from __future__ import annotations

import asyncio

import pytest

from seawall.sim import Engine, World, deterministic
from seawall.sim._loop import VirtualLoop


def run(engine: Engine, loop: VirtualLoop, until: float) -> None:
    loop.enter()
    try:
        engine.run(until)
    finally:
        loop.leave()


def test_sleep_timeout_wait_and_current_task_use_virtual_time() -> None:
    engine = Engine()
    loop = VirtualLoop(engine)  # type: ignore[abstract]
    trace: list[tuple[str, float]] = []

    async def body() -> str:
        assert asyncio.current_task() is task
        await asyncio.sleep(1.5)
        trace.append(("slept", loop.time()))
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(2.0):
                await asyncio.sleep(10.0)
        trace.append(("timed out", loop.time()))
        future = loop.create_future()
        loop.call_later(0.25, future.set_result, 7)
        done, _ = await asyncio.wait([future], timeout=1.0)
        trace.append(("answered", loop.time()))
        never = loop.create_future()
        done, _ = await asyncio.wait([never], timeout=0.5)
        assert not done
        trace.append(("gave up", loop.time()))
        return "finished"

    task = loop.create_task(body())
    run(engine, loop, 100.0)
    assert trace == [("slept", 1.5), ("timed out", 3.5), ("answered", 3.75), ("gave up", 4.25)]
    assert task.result() == "finished"
    assert asyncio._get_running_loop() is None


def test_a_cancelled_timer_never_runs_and_soon_keeps_order() -> None:
    engine = Engine()
    loop = VirtualLoop(engine)  # type: ignore[abstract]
    seen: list[str] = []
    loop.call_later(1.0, seen.append, "cancelled").cancel()
    loop.call_soon(seen.append, "first")
    loop.call_soon(seen.append, "second")
    loop.call_at(0.5, seen.append, "at")
    run(engine, loop, 2.0)
    assert seen == ["first", "second", "at"]


def test_tasks_cut_off_by_the_horizon_are_unwound_not_leaked() -> None:
    world = World(seed=0)
    slow = world.service("slow", service_time=deterministic(100.0))
    world.clients(3, think_time=0.0, target=slow)
    result = world.run(until=1.0)
    assert result.clients["clients"].requests == 3
    assert not asyncio.all_tasks(world._loop)


def test_the_world_clock_is_a_seawall_clock_whose_alarms_cancel_at_the_instant() -> None:
    import seawall

    world = World(seed=0)
    assert isinstance(world.clock, seawall.Clock)
    trace: list[tuple[str, float]] = []

    async def cut_short() -> None:
        alarm = world.clock.cancel_at(2.5)
        try:
            await asyncio.sleep(10.0)
        except asyncio.CancelledError:
            trace.append(("cancelled", world.clock.now()))
            assert alarm.fired
            raise

    async def disarmed() -> None:
        alarm = world.clock.cancel_at(1.0)
        alarm.disarm()
        await asyncio.sleep(3.0)
        trace.append(("slept", world.clock.now()))

    async def waits() -> None:
        never = asyncio.get_running_loop().create_future()
        assert not await world.clock.wait_future(never, 0.75)
        trace.append(("waited", world.clock.now()))
        assert not never.cancelled()  # a limit never cancels the awaited future

    world.service("idle", service_time=deterministic(1.0))
    for body in (cut_short(), disarmed(), waits()):
        world._loop.create_task(body)
    world.run(until=5.0)
    assert sorted(trace, key=lambda step: step[1]) == [
        ("waited", 0.75),
        ("cancelled", 2.5),
        ("slept", 3.0),
    ]
