"""Cheap cancellation timers for async deadlines.

A deadline is armed on every protected call and almost never fires: ``asyncio.timeout``
costs about 3 µs per use and ``loop.call_later`` about 1.2 µs, which a server edge pays on
every request. So each event loop gets a watchdog with a coarse timer wheel: alarms are
grouped by deadline into buckets of :data:`RESOLUTION` seconds (rounded *up*, so an
alarm never fires early and at most 5 ms late), one loop timer serves a whole bucket, and
disarming is a dict delete — nothing dead is left behind to sweep. An alarm that fires
cancels its task; the Timeout shell turns that cancellation into ``DeadlineExceeded``.
"""

from __future__ import annotations

import asyncio
import math
import threading
import weakref
from typing import Any

__all__ = ["RESOLUTION", "Alarm", "arm"]

RESOLUTION = 0.005  # seconds per bucket


class Alarm:
    """A pending cancellation of ``task`` at loop time ``when`` (or later, by < 5 ms)."""

    __slots__ = ("_bucket", "fired", "task", "when")

    def __init__(self, when: float, task: asyncio.Task[Any]) -> None:
        self.when = when
        self.task: asyncio.Task[Any] = task
        self.fired = False
        self._bucket: dict[int, Alarm] | None = None

    @property
    def active(self) -> bool:
        return self._bucket is not None

    def disarm(self) -> None:
        bucket = self._bucket
        if bucket is not None:
            self._bucket = None
            bucket.pop(id(self), None)

    def _fire(self) -> None:
        self._bucket = None
        self.fired = True
        self.task.cancel("seawall deadline exceeded")


class _Watchdog:
    __slots__ = ("__weakref__", "buckets", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.buckets: dict[int, dict[int, Alarm]] = {}

    def add(self, alarm: Alarm) -> None:
        key = math.ceil(alarm.when / RESOLUTION)
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = {}
            self.loop.call_at(key * RESOLUTION, self._fire, key)
        bucket[id(alarm)] = alarm
        alarm._bucket = bucket

    def _fire(self, key: int) -> None:
        bucket = self.buckets.pop(key, None)
        if bucket:
            for alarm in list(bucket.values()):
                alarm._fire()


_watchdogs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Watchdog] = (
    weakref.WeakKeyDictionary()
)
# The watchdog of the loop used last, per thread: a WeakKeyDictionary lookup builds a weak
# reference each time, which costs more than everything else arm() does.
_last = threading.local()


def _watchdog_of(loop: asyncio.AbstractEventLoop) -> _Watchdog:
    cached: _Watchdog | None = getattr(_last, "watchdog", None)
    if cached is not None and cached.loop is loop:
        return cached
    watchdog = _watchdogs.get(loop)
    if watchdog is None:
        watchdog = _watchdogs[loop] = _Watchdog(loop)
    _last.watchdog = watchdog
    return watchdog


def arm(seconds: float) -> Alarm:
    """Cancel the current task ``seconds`` from now unless the alarm is disarmed first."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task(loop)
    if task is None:
        raise RuntimeError("seawall timeouts need to run inside an asyncio task")
    alarm = Alarm(loop.time() + seconds, task)
    _watchdog_of(loop).add(alarm)
    return alarm
