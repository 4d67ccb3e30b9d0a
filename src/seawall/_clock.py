"""Time as a dependency.

Every policy reads time through a :class:`Clock` and waits through it, so tests and the
simulator run the real policy code on virtual time (trio's ``clock=``, Polly's
TimeProvider). Nothing in policy logic calls ``time.monotonic``, ``time.sleep``, a timed
``Event.wait`` or ``asyncio.wait_for`` itself: backoff sleeps, queue waits, coalesced
followers and deadline cancellation all go through the clock, so whoever drives the clock
drives every wait.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Protocol, runtime_checkable

from seawall._alarm import Alarm, arm_at

__all__ = ["SYSTEM_CLOCK", "Alarm", "Clock", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """Monotonic seconds, and every way a policy waits on them."""

    def now(self) -> float:
        """Monotonic time in seconds; only differences are meaningful."""
        ...

    def sleep(self, seconds: float) -> None:
        """Block the calling thread for ``seconds``."""
        ...

    async def asleep(self, seconds: float) -> None:
        """Suspend the calling task for ``seconds``."""
        ...

    def wait(self, event: threading.Event, timeout: float | None) -> bool:
        """Block until ``event`` is set or ``timeout`` seconds pass; True if it was set."""
        ...

    async def wait_future(self, future: asyncio.Future[Any], limit: float | None) -> bool:
        """Suspend until ``future`` is done or ``limit`` seconds pass; True if it is done.

        The future is never cancelled here, by the limit or by cancelling the waiter:
        the caller decides what a late wake-up means.
        """
        ...

    def cancel_at(self, when: float) -> Alarm:
        """Cancel the current asyncio task at clock time ``when`` unless disarmed first."""
        ...


class SystemClock:
    """The real clock: ``time.monotonic`` and the runtime's own timed waits."""

    __slots__ = ("cancel_at", "now")

    def __init__(self) -> None:
        # Bound directly so the hot path pays one call, not a method frame more.
        self.now = time.monotonic
        self.cancel_at = arm_at

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    async def asleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0))

    def wait(self, event: threading.Event, timeout: float | None) -> bool:
        return event.wait(None if timeout is None else max(timeout, 0.0))

    async def wait_future(self, future: asyncio.Future[Any], limit: float | None) -> bool:
        if future.done():
            return True
        done, _ = await asyncio.wait((future,), timeout=None if limit is None else max(limit, 0.0))
        return bool(done)

    def __repr__(self) -> str:
        return "SystemClock()"


SYSTEM_CLOCK: Clock = SystemClock()
