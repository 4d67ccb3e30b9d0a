"""Cheap cancellation timers for async deadlines.

A deadline is armed on every protected call and almost never fires: ``asyncio.timeout``
costs about 3 µs per use and ``loop.call_later`` about 1.2 µs, which a server edge pays on
every request. So each event loop gets a watchdog with a coarse timer wheel: alarms are
grouped by deadline into buckets of :data:`RESOLUTION` seconds (rounded *up*, so an
alarm never fires early and at most 5 ms late), one loop timer serves the earliest bucket,
and disarming is a dict delete. An alarm that fires
cancels its task; the Timeout shell turns that cancellation into ``DeadlineExceeded``.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import threading
import time
import weakref
from typing import Any

from seawall._validate import MAX_SECONDS

__all__ = ["RESOLUTION", "Alarm", "arm", "arm_at"]

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

    def claimed(self) -> bool:
        """Whether the cancellation that reached this alarm's scope is the alarm's own.

        It is when the alarm fired and no other cancellation of the task is pending; the
        alarm's request is then withdrawn (``uncancel``), so the scope may answer with
        ``DeadlineExceeded``. Any other cancellation (a client gone, a server stopping)
        must propagate.
        """
        return self.fired and self.task.uncancel() == 0

    def _fire(self) -> None:
        self._bucket = None
        self.fired = True
        self.task.cancel("seawall deadline exceeded")


class _Watchdog:
    """One loop's alarms, in buckets, behind a single loop timer.

    Buckets are created as deadlines arrive and left in place when their alarms are
    disarmed (a steady stream of requests reuses each bucket until it is due), so most
    buckets are empty by the time they are due. Only the earliest bucket holds a loop
    timer: one timer per bucket would put a thousand live handles (5 s of 5 ms buckets)
    into the event loop's heap, and every other timer of the server — uvicorn schedules a
    keep-alive timer per request — would then pay for the deeper heap, measured at
    several µs per request.
    """

    __slots__ = ("__weakref__", "buckets", "due", "handle", "loop", "next_key")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.buckets: dict[int, dict[int, Alarm]] = {}
        self.due: list[int] = []  # heap of the buckets' keys
        self.next_key: int | None = None  # the key the loop timer is set for
        self.handle: asyncio.TimerHandle | None = None

    def add(self, alarm: Alarm) -> None:
        key = math.ceil(alarm.when / RESOLUTION)
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = {}
            heapq.heappush(self.due, key)
            if self.next_key is None or key < self.next_key:
                self._schedule(key)
        bucket[id(alarm)] = alarm
        alarm._bucket = bucket

    def _schedule(self, key: int) -> None:
        if self.handle is not None:
            self.handle.cancel()
        self.next_key = key
        self.handle = self.loop.call_at(key * RESOLUTION, self._fire)

    def _fire(self) -> None:
        # The loop may run a timer a clock tick early: what was scheduled counts as due.
        assert self.next_key is not None
        limit = max(self.next_key, math.floor(self.loop.time() / RESOLUTION))
        self.handle = self.next_key = None
        due, buckets = self.due, self.buckets
        while due and due[0] <= limit:
            bucket = buckets.pop(heapq.heappop(due), None)
            if bucket:
                for alarm in list(bucket.values()):
                    alarm._fire()
        if due:
            self._schedule(due[0])


_watchdogs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Watchdog] = (
    weakref.WeakKeyDictionary()
)
# The watchdog of the loop used last, per thread: a WeakKeyDictionary lookup builds a weak
# reference each time, which costs more than everything else arm() does.
_last = threading.local()


def _watchdog_of(loop: asyncio.AbstractEventLoop) -> _Watchdog:
    watchdog = _watchdogs.get(loop)
    if watchdog is None:
        watchdog = _watchdogs[loop] = _Watchdog(loop)
    _last.watchdog = watchdog
    return watchdog


def arm(seconds: float) -> Alarm:
    """Cancel the current task ``seconds`` from now unless the alarm is disarmed first."""
    return arm_at(time.monotonic() + seconds)


def arm_at(when: float) -> Alarm:
    """Cancel the current task once ``time.monotonic()`` reaches ``when``, unless disarmed.

    What :meth:`seawall.SystemClock.cancel_at` is: it runs on every protected async call,
    so it is one function. The event loop's clock need not be ``time.monotonic``: the
    alarm is set for the time left, read on both. An alarm beyond
    :data:`~seawall._validate.MAX_SECONDS` (``inf``: no deadline) is never armed: its
    bucket number would overflow, and it could never fire anyway.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.current_task(loop)
    if task is None:
        raise RuntimeError("seawall timeouts need to run inside an asyncio task")
    seconds = when - time.monotonic()
    alarm = Alarm(loop.time() + seconds, task)
    if not seconds <= MAX_SECONDS:  # an infinite deadline: nothing to schedule, ever
        return alarm
    watchdog: _Watchdog | None = getattr(_last, "watchdog", None)
    if watchdog is None or watchdog.loop is not loop:
        watchdog = _watchdog_of(loop)
    watchdog.add(alarm)
    return alarm
