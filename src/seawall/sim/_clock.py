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
from collections import deque
from heapq import heappush
from typing import Any

from seawall._alarm import Alarm
from seawall.sim._engine import Engine
from seawall.sim._loop import VirtualLoop

__all__ = ["LANES", "WorldClock"]

LANES = 8  # alarm lanes per world: one per deadline offset in use is enough


class WorldClock:
    """Virtual seconds of one world; waits are asyncio waits on its virtual loop.

    It implements the whole of ``seawall.Clock``. The blocking forms (``sleep``,
    ``wait``) raise: one thread runs the whole world, so a blocked thread would stop
    every simulated request at once.
    """

    __slots__ = ("_armed", "_engine", "_heap", "_lanes", "_loop", "_seq")

    def __init__(self, engine: Engine, loop: VirtualLoop) -> None:
        self._engine = engine
        self._heap = engine.heap
        self._seq = engine.seq
        # The world's loop, named rather than looked up: asking asyncio for the running
        # loop costs a system call (it checks the process id), once per wait and alarm.
        self._loop = loop
        self._armed: dict[int, Alarm] = {}
        # Armed alarms in deadline order, each lane with a heap entry for its first one.
        self._lanes: list[deque[tuple[float, int, Alarm]]] = []

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

        The alarm fires at exactly ``when`` (no timer-wheel rounding), in the place its
        own sequence number gives it among what is due then, so runs stay reproducible.
        Almost every alarm is disarmed long before it is due (the call answered), and
        most deadlines are "now plus a fixed timeout", which come in order: so alarms
        wait in a few queues sorted by deadline (*lanes*), each with one heap entry for
        its first alarm, and the alarms disarmed behind it are passed over without ever
        touching the heap. One that fits no lane gets a heap entry of its own.
        """
        task = current_task(self._loop) or asyncio.current_task()
        if task is None:
            raise RuntimeError("seawall timeouts need to run inside an asyncio task")
        alarm = Alarm(when, task)
        # Disarming removes the alarm from this dict (the driver does it inline); what is
        # still in it when its time comes fires, and what is not is skipped.
        armed = alarm._bucket = self._armed
        armed[id(alarm)] = alarm
        now = self._engine.now
        due = when if when > now else now
        seq = next(self._seq)
        for lane in self._lanes:
            if lane[-1][0] <= due:
                lane.append((due, seq, alarm))
                return alarm
        if len(self._lanes) < LANES:
            lane = deque(((due, seq, alarm),))
            self._lanes.append(lane)
            heappush(self._heap, (due, seq, self._lane_due, lane))
        else:
            heappush(self._heap, (due, seq, self._due, alarm))
        return alarm

    def _due(self, alarm: Alarm) -> None:
        bucket = alarm._bucket
        if bucket is not None:
            bucket.pop(id(alarm), None)
            alarm._fire()

    def _lane_due(self, lane: deque[tuple[float, int, Alarm]]) -> None:
        """A lane's first alarm is due: fire it if armed, schedule the next armed one."""
        alarm = lane.popleft()[2]
        while lane and lane[0][2]._bucket is None:  # disarmed: nothing to do, ever
            lane.popleft()
        if lane:
            due, seq, _ = lane[0]
            heappush(self._heap, (due, seq, self._lane_due, lane))
        else:
            lanes = self._lanes
            for index, each in enumerate(lanes):
                if each is lane:
                    del lanes[index]
                    break
        self._due(alarm)

    def discard(self) -> None:
        """Drop the alarms still waiting: the run they belonged to is over."""
        self._lanes.clear()
        self._armed.clear()
