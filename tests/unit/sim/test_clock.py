"""The world's clock: deadline alarms fire at their exact virtual instant, and only then."""

from __future__ import annotations

import asyncio
import functools

from seawall.sim import World
from seawall.sim._clock import LANES


def test_alarms_fire_at_their_deadlines_in_order_and_disarmed_ones_never() -> None:
    world = World(seed=0)
    loop = world._loop
    fired: list[tuple[str, float]] = []
    # Deadlines out of order, more distinct offsets than there are lanes, ties included.
    plan = [(0.1 * (i % 7), 0.3 + (i * 37 % 11) * 0.1, i % 5 == 0) for i in range(4 * LANES)]
    expected: list[tuple[float, int, str]] = []

    async def body(name: str, start: float, budget: float, disarm: bool) -> None:
        await loop.sleep(start)
        alarm = world.clock.cancel_at(world.now + budget)
        try:
            if disarm:
                await loop.sleep(budget / 2)
                alarm.disarm()
            await loop.sleep(100.0)
        except asyncio.CancelledError:
            if alarm.fired:  # not the end of the run cancelling what is left
                fired.append((name, world.now))

    def start_task(name: str, start: float, budget: float, disarm: bool) -> None:
        loop.create_task(body(name, start, budget, disarm))

    for index, (start, timeout, disarm) in enumerate(plan):
        if not disarm:
            expected.append((start + timeout, index, f"task {index}"))
        world.at(0.0, functools.partial(start_task, f"task {index}", *plan[index]))
    world.run(until=5.0)
    # Ties at one instant fire in the order the alarms were armed (start, then index).
    order = sorted(expected, key=lambda e: (e[0], plan[e[1]][0], e[1]))
    assert fired == [(name, when) for when, _, name in order]


def test_alarms_disarmed_before_they_are_due_take_no_place_in_the_heap() -> None:
    world = World(seed=0)
    loop = world._loop
    depth: list[int] = []

    async def calls() -> None:
        while True:  # a call a millisecond, each under a 1 s deadline it never reaches
            alarm = world.clock.cancel_at(world.now + 1.0)
            await loop.sleep(0.001)
            alarm.disarm()

    world.at(0.0, lambda: loop.create_task(calls()))
    world.at(3.0, lambda: depth.append(len(world.engine.heap)))
    result = world.run(until=4.0)
    assert depth[0] <= 3  # the sleep, a lane's first alarm, the probe: not 1,000 alarms
    assert result.events < 2 * 4_000 + 100  # two events a call: the sleep and its step
