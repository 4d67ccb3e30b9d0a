"""Waiting for a wake-up or a timeout, on whatever clock a policy was given.

The overload policies park callers (queued load-shedder waiters, coalesced followers).
Their timeouts must run on the injected :class:`~seawall.Clock`, so a test on a
:class:`~seawall.testing.FakeClock` sees exact virtual times and never really sleeps. On
the real clock the waits use the runtime's own timed waits, which cost nothing while
parked; on any other clock they sleep on that clock, which a fake clock answers at once.
"""

from __future__ import annotations

import asyncio
import threading

from seawall._clock import Clock, SystemClock

__all__ = ["await_future", "wait_event"]

# How finely a sync waiter on a virtual clock checks for its wake-up between clock sleeps.
_SLICE = 0.001
# Virtual time jumps, but the threads that would wake a waiter run in real time: each slice
# parks the waiter for a real instant so they can make progress before time moves on.
_YIELD = 1e-5


def wait_event(event: threading.Event, timeout: float | None, clock: Clock) -> bool:
    """Wait until ``event`` is set or ``timeout`` clock seconds pass; True if it was set."""
    if timeout is None:
        event.wait()
        return True
    if isinstance(clock, SystemClock):
        return event.wait(max(timeout, 0.0))
    until = clock.now() + timeout
    while not event.is_set():
        left = until - clock.now()
        if left <= 0.0:
            return event.is_set()
        if event.wait(_YIELD):
            return True
        clock.sleep(min(left, _SLICE))
    return True


async def await_future(fut: asyncio.Future[None], limit: float | None, clock: Clock) -> bool:
    """Wait until ``fut`` is done or ``limit`` clock seconds pass; True if it is done.

    ``fut`` is never cancelled here, neither by the limit nor when the waiting task is
    cancelled: the caller decides what a late wake-up means and cleans up after itself.
    """
    if fut.done():
        return True
    if limit is None:
        await asyncio.wait((fut,))
        return True
    if isinstance(clock, SystemClock):
        done, _ = await asyncio.wait((fut,), timeout=max(limit, 0.0))
        return bool(done)
    timer = asyncio.ensure_future(clock.asleep(limit))
    try:
        await asyncio.wait((fut, timer), return_when=asyncio.FIRST_COMPLETED)
    finally:
        timer.cancel()
    return fut.done()
