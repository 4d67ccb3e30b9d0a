"""The clock a simulated policy is built with: the world's virtual time.

``seawall`` policies read time and wait only through their ``clock=``; handing them this
clock (``clock=world.clock``) puts every reading, backoff sleep and timed wait on the
engine's virtual time, while the asyncio timers they arm land on the world's
:class:`~seawall.sim._loop.VirtualLoop`, whose time is the same.
"""

from __future__ import annotations

import asyncio
import threading
from asyncio import current_task
from heapq import heappush
from typing import Any

from seawall._alarm import Alarm
from seawall.sim._engine import Engine
from seawall.sim._loop import VirtualLoop

__all__ = ["WorldClock"]


class WorldClock:
    """Virtual seconds of one world; waits are asyncio waits on its virtual loop.

    It implements the whole of ``seawall.Clock``. The blocking forms (``sleep``,
    ``wait``) raise: one thread runs the whole world, so a blocked thread would stop
    every simulated request at once.
    """

    __slots__ = ("_armed", "_engine", "_heap", "_loop", "_seq")

    def __init__(self, engine: Engine, loop: VirtualLoop) -> None:
        self._engine = engine
        self._heap = engine.heap
        self._seq = engine.seq
        # The world's loop, named rather than looked up: asking asyncio for the running
        # loop costs a system call (it checks the process id), once per wait and alarm.
        self._loop = loop
        self._armed: dict[int, Alarm] = {}

    def __repr__(self) -> str:
        return f"WorldClock(now={self._engine.now!r})"

    def now(self) -> float:
        return self._engine.now

    def sleep(self, seconds: float) -> None:
        # Blocking a thread would stop the whole world: every simulated request is a task.
        raise RuntimeError(
            "a simulated policy waits asynchronously: call it with acall(), not call()"
        )

    async def asleep(self, seconds: float) -> None:
        loop = self._loop
        if loop.running:
            await loop.sleep(seconds)
        else:  # outside the world's run: a real wait on whatever loop runs
            await asyncio.sleep(max(seconds, 0.0))

    def wait(self, event: threading.Event, timeout: float | None) -> bool:
        raise RuntimeError(
            "a simulated policy waits asynchronously: call it with acall(), not call()"
        )

    async def wait_future(self, future: asyncio.Future[Any], limit: float | None) -> bool:
        if future.done():
            return True
        done, _ = await asyncio.wait((future,), timeout=None if limit is None else max(limit, 0.0))
        return bool(done)

    def cancel_at(self, when: float) -> Alarm:
        """Cancel the current task at virtual time ``when`` unless the alarm is disarmed.

        The alarm fires at exactly ``when`` (no timer-wheel rounding): on virtual time a
        deadline costs one heap entry, and an exact instant keeps runs reproducible.
        """
        task = current_task(self._loop) or asyncio.current_task()
        if task is None:
            raise RuntimeError("seawall timeouts need to run inside an asyncio task")
        alarm = Alarm(when, task)
        # Disarming removes the alarm from this dict (the driver does it inline); what is
        # still in it when its time comes fires, and what is not is skipped when due.
        armed = alarm._bucket = self._armed
        armed[id(alarm)] = alarm
        now = self._engine.now
        heappush(self._heap, (when if when > now else now, next(self._seq), self._due, alarm))
        return alarm

    def _due(self, alarm: Alarm) -> None:
        bucket = alarm._bucket
        if bucket is not None:
            bucket.pop(id(alarm), None)
            alarm._fire()
