"""Time as a dependency.

Every policy reads time through a :class:`Clock` and waits through it, so tests and the
simulator run the real policy code on virtual time (trio's ``clock=``, Polly's
TimeProvider). Nothing in policy logic calls ``time.monotonic`` or ``time.sleep`` itself.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol, runtime_checkable

__all__ = ["SYSTEM_CLOCK", "Clock", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """Monotonic seconds plus the two ways of waiting on them."""

    def now(self) -> float:
        """Monotonic time in seconds; only differences are meaningful."""
        ...

    def sleep(self, seconds: float) -> None:
        """Block the calling thread for ``seconds``."""
        ...

    async def asleep(self, seconds: float) -> None:
        """Suspend the calling task for ``seconds``."""
        ...


class SystemClock:
    """The real clock: ``time.monotonic`` and real sleeping."""

    __slots__ = ("now",)

    def __init__(self) -> None:
        # Bound directly so the hot path pays one C call, not a Python frame.
        self.now = time.monotonic

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    async def asleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0))

    def __repr__(self) -> str:
        return "SystemClock()"


SYSTEM_CLOCK: Clock = SystemClock()
