"""The clock a simulated policy is built with: the world's virtual time.

``seawall`` policies read time and wait only through their ``clock=``; handing them this
clock (``clock=world.clock``) puts every reading, backoff sleep and timed wait on the
engine's virtual time, while the asyncio timers they arm land on the world's
:class:`~seawall.sim._loop.VirtualLoop`, whose time is the same.
"""

from __future__ import annotations

import asyncio
import threading
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

    __slots__ = ("_armed", "_engine")

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
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
        loop = asyncio.get_running_loop()
        if isinstance(loop, VirtualLoop):
            await loop.sleep(seconds)
        else:
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
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("seawall timeouts need to run inside an asyncio task")
        alarm = Alarm(when, task)
        # Disarming removes the alarm from this dict (the driver does it inline); what is
        # still in it when its time comes fires.
        alarm._bucket = self._armed
        self._armed[id(alarm)] = alarm
        self._engine.at(when, self._due, alarm)
        return alarm

    def _due(self, alarm: Alarm) -> None:
        bucket = alarm._bucket
        if bucket is not None:
            bucket.pop(id(alarm), None)
            alarm._fire()
