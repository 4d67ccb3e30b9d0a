"""Test support: a fake clock, and event capture.

``FakeClock`` is trio's ``MockClock`` for seawall: time moves only when a test calls
:meth:`FakeClock.advance` or when code under test sleeps or waits on it, and then it jumps
at once — sync or async — so tests assert exact virtual times and never really sleep.
Deadline alarms fire when virtual time reaches them.
The pytest plugin (installed with seawall) provides the ``fake_clock`` fixture.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from seawall._alarm import Alarm
from seawall._events import Event, add_hook

__all__ = ["FakeClock", "capture_events"]


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class FakeClock:
    """Virtual monotonic time that advances only when told to, slept on or waited on.

    ``sleeps`` records every requested sleep, in order, so a test can assert a backoff
    schedule exactly. Thread-safe: policies under test may read it from many threads.

    Waits jump, as trio's ``MockClock`` with autojump does: a timed wait that nobody ends
    within ``autojump`` real seconds moves virtual time to the earliest deadline anyone is
    waiting for, so a 5 s queue timeout takes a few milliseconds and ends at exactly 5 s.
    Cancellation alarms (:meth:`cancel_at`) fire when virtual time reaches them, whoever
    moves it: :meth:`advance`, a sleep, or a wait.
    """

    def __init__(self, start: float = 0.0, *, autojump: float = 0.002) -> None:
        self._now = float(start)
        self._lock = threading.Lock()
        self.sleeps: list[float] = []
        self.autojump = autojump
        self._alarms: dict[int, Alarm] = {}
        self._due: list[tuple[float, int]] = []  # heap of (when, id(alarm))
        self._waits: dict[int, float] = {}  # waiter ticket -> virtual deadline
        self._tickets = itertools.count()

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` (never backwards)."""
        if seconds < 0:
            raise ValueError("a monotonic clock cannot go backwards")
        with self._lock:
            self._now += seconds
        self._fire_due()

    def _advance_to(self, when: float) -> None:
        with self._lock:
            if when > self._now:
                self._now = when
        self._fire_due()

    def _fire_due(self) -> None:
        while True:
            with self._lock:
                if not self._due or self._due[0][0] > self._now:
                    return
                _, key = heapq.heappop(self._due)
                alarm = self._alarms.pop(key, None)
            if alarm is not None:
                alarm._bucket = None
                alarm.fired = True
                loop = alarm.task.get_loop()
                if _running_loop() is loop:
                    alarm.task.cancel("seawall deadline exceeded")
                else:
                    loop.call_soon_threadsafe(alarm.task.cancel, "seawall deadline exceeded")

    def _next_alarm(self, limit: float) -> float | None:
        with self._lock:
            while self._due and self._due[0][1] not in self._alarms:
                heapq.heappop(self._due)  # disarmed
            if self._due and self._due[0][0] <= limit:
                return self._due[0][0]
            return None

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
        self._advance_to(self._now + max(seconds, 0.0))

    async def asleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
        until = self._now + max(seconds, 0.0)
        # Stop at every alarm on the way: one may cancel this very task, which then wakes
        # at the alarm's time, not at the end of the sleep.
        while (at := self._next_alarm(until)) is not None:
            self._advance_to(at)
            await asyncio.sleep(0)
        self._advance_to(until)
        # Still a suspension point, as a real sleep is: other tasks get to run.
        await asyncio.sleep(0)

    def wait(self, event: threading.Event, timeout: float | None) -> bool:
        if timeout is None:
            event.wait()
            return True
        if event.is_set():
            return True
        until = self._now + max(timeout, 0.0)
        key = next(self._tickets)
        with self._lock:
            self._waits[key] = until
        try:
            while not event.wait(self.autojump):
                if self._now >= until:
                    return event.is_set()
                # Nobody woke this waiter within the autojump threshold: jump to the
                # earliest deadline anyone is waiting for (it may be another waiter's).
                with self._lock:
                    target = min(self._waits.values())
                self._advance_to(target)
            return True
        finally:
            with self._lock:
                self._waits.pop(key, None)

    async def wait_future(self, future: asyncio.Future[Any], limit: float | None) -> bool:
        if future.done():
            return True
        if limit is None:
            await asyncio.wait((future,))
            return True
        timer = asyncio.ensure_future(self.asleep(max(limit, 0.0)))
        try:
            await asyncio.wait((future, timer), return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
        return future.done()

    def cancel_at(self, when: float) -> Alarm:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("seawall timeouts need to run inside an asyncio task")
        alarm = Alarm(when, task)
        with self._lock:
            self._alarms[id(alarm)] = alarm
            heapq.heappush(self._due, (when, id(alarm)))
            alarm._bucket = self._alarms
        if when <= self._now:
            self._fire_due()
        return alarm

    def __repr__(self) -> str:
        return f"FakeClock(now={self._now})"


@contextmanager
def capture_events() -> Iterator[list[Event]]:
    """Collect every event emitted inside the block into a list."""
    events: list[Event] = []
    remove = add_hook(events.append)
    try:
        yield events
    finally:
        remove()
