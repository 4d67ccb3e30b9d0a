"""Test support: a fake clock, and event capture.

``FakeClock`` is trio's ``MockClock`` for seawall: time moves only when a test calls
:meth:`FakeClock.advance` or when code under test sleeps on it, and then it jumps at
once — sync or async — so tests assert exact virtual times and never really sleep.
The pytest plugin (installed with seawall) provides the ``fake_clock`` fixture.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from seawall._events import Event, add_hook

__all__ = ["FakeClock", "capture_events"]


class FakeClock:
    """Virtual monotonic time that advances only when told to or slept on.

    ``sleeps`` records every requested sleep, in order, so a test can assert a backoff
    schedule exactly. Thread-safe: policies under test may read it from many threads.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` (never backwards)."""
        if seconds < 0:
            raise ValueError("a monotonic clock cannot go backwards")
        with self._lock:
            self._now += seconds

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self._now += max(seconds, 0.0)

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)
        # Still a suspension point, as a real sleep is: other tasks get to run.
        await asyncio.sleep(0)

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
