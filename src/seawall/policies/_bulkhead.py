"""Bulkhead: a bounded number of concurrent calls per dependency, and a bounded queue.

Separate pools per dependency (a bulkhead, as in a ship's hull) mean a slow dependency can exhaust
only its own slots, not every worker thread of the service. When the slots are busy a call
may wait in a bounded FIFO queue for at most ``max_wait`` (and never past its deadline);
when the queue is full too it fails fast with :class:`~seawall.BulkheadFull`.

One bulkhead serves threads and asyncio tasks alike, as trio's ``CapacityLimiter`` does.
Free slots are tokens in a ``deque``: under the GIL ``pop``/``append`` are atomic, so a call
that finds a free slot and nobody queued takes and returns it without any lock. The lock
guards only the queue: a released slot is handed straight to the first waiter, a waiter
re-checks for a token after queueing (so a release racing with it is never lost), and a
waiter that gives up after being handed a slot passes it on instead of leaking it. No lock
is ever held while the protected call runs.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from seawall._clock import SYSTEM_CLOCK, Clock
from seawall._deadline import remaining
from seawall._errors import BulkheadFull
from seawall._events import CallRejected, Event
from seawall._gate import Park, Wait, admit_async, admit_sync
from seawall._validate import MAX_COUNT, count, optional_seconds
from seawall._validate import name as policy_name
from seawall.policies._base import Policy

__all__ = ["Bulkhead", "BulkheadStats"]


@dataclass(frozen=True, slots=True)
class BulkheadStats:
    """A snapshot of a bulkhead's occupancy and lifetime counters."""

    name: str
    max_concurrent: int
    max_queue: int
    in_flight: int
    queued: int
    admitted: int
    rejected: int


class Bulkhead(Policy):
    """At most ``max_concurrent`` calls at once; at most ``max_queue`` waiting.

    A queued call waits at most ``max_wait`` seconds (``None`` or ``inf``: until a slot
    frees or its deadline runs out).
    """

    __slots__ = (
        "_clock",
        "_events",
        "_lock",
        "_tokens",
        "_waiters",
        "admitted",
        "max_concurrent",
        "max_queue",
        "max_wait",
        "name",
        "rejected_full",
        "rejected_timeout",
    )

    def __init__(
        self,
        name: str = "bulkhead",
        *,
        max_concurrent: int = 10,
        max_queue: int = 0,
        max_wait: float | timedelta | None = None,
        clock: Clock | None = None,
    ) -> None:
        # The slots are allocated up front, hence the ceiling on max_concurrent.
        max_concurrent = count(max_concurrent, "max_concurrent", maximum=MAX_COUNT)
        max_queue = count(max_queue, "max_queue", minimum=0)
        self.name = policy_name(name)
        self.max_concurrent = max_concurrent
        self.max_queue = max_queue
        self.max_wait = optional_seconds(max_wait, "max_wait")  # inf: wait as long as it takes
        self._clock = clock or SYSTEM_CLOCK
        self._lock = threading.Lock()
        self._tokens: deque[None] = deque([None] * max_concurrent)  # the free slots
        self._waiters: deque[Wait] = deque()
        self._events: list[Event] = []  # what it decided, emitted by the driver
        # Counters, as plain fields read without the lock.
        self.admitted = 0
        self.rejected_full = 0  # no free slot and no queue room
        self.rejected_timeout = 0  # the wait in the queue ran out

    # -- the decision core: the lock is held only inside these, never across a call ----

    def _enter(self, park: Park) -> Any:
        """Take a free slot (``None``), queue the call (a Wait), or refuse it (full)."""
        tokens = self._tokens
        waiters = self._waiters
        with self._lock:
            if not waiters and tokens:
                tokens.pop()
                self.admitted += 1
                return None
            if len(waiters) >= self.max_queue:
                self.rejected_full += 1
                queued = None
            else:
                queued = park()
                queued.seconds = self._wait_budget()
                queued.waiter = False  # granted: set True when a slot is handed over
                waiters.append(queued)
                # A release may have returned its token after we looked and before we
                # queued; it saw no waiter, so nobody would hand that token over: do it now.
                self._hand_over_locked()
        if queued is None:
            return self._full(False)
        return None if queued.waiter else queued

    def _waited(self, wait: Wait, woken: bool) -> Any:
        """After a queue wait: the slot (``None``) if it was handed over, else refused."""
        if woken:
            return None
        with self._lock:
            if wait.waiter:
                return None  # granted just as the wait ran out: the slot is ours
            with contextlib.suppress(ValueError):
                self._waiters.remove(wait)
            self.rejected_timeout += 1
        return self._full(True)

    def _abandon(self, wait: Wait) -> None:
        """The waiting caller is gone: leave the queue, or pass on a slot it was handed."""
        with self._lock:
            if not wait.waiter:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(wait)
                self.rejected_timeout += 1
                return
        self.release()

    def _leave(self, ticket: None, exc: BaseException | None) -> None:
        self.release()

    def release(self) -> None:
        """Free a slot: give the token back, and hand it to the first waiter if any."""
        self._tokens.append(None)
        if self._waiters:
            self._hand_over()

    def _hand_over(self) -> None:
        """Hand free slots to queued waiters, first come first served."""
        with self._lock:
            self._hand_over_locked()

    def _hand_over_locked(self) -> None:
        tokens = self._tokens
        while self._waiters and tokens:
            tokens.pop()
            waiter = self._waiters.popleft()
            waiter.waiter = True
            self.admitted += 1
            waiter.wake()

    def _wait_budget(self) -> float | None:
        left = remaining()
        limit = self.max_wait
        if left is not None and (limit is None or left < limit):
            limit = max(left, 0.0)
        return limit

    def _full(self, waited: bool) -> BulkheadFull:
        """The refusal to raise; its CallRejected event is recorded for the driver."""
        reason = "wait for a slot timed out" if waited else "no free slot and the queue is full"
        self._events.append(
            CallRejected(policy="bulkhead", name=self.name, at=self._clock.now(), reason=reason)
        )
        return BulkheadFull(
            self.name,
            f"bulkhead {self.name!r} is full ({self.max_concurrent} in flight, "
            f"{self.max_queue} queued): {reason}",
        )

    # -- acquire for threads and tasks: the gate driver waits on the clock -------------

    def acquire(self) -> None:
        """Take a slot for the calling thread, waiting within limits; else BulkheadFull."""
        admit_sync(self, self._enter)

    async def aacquire(self) -> None:
        """Take a slot for the calling task, waiting within limits; else BulkheadFull."""
        await admit_async(self, self._enter)

    def _layout(self) -> tuple[str, ...]:
        return ("bulkhead",)

    def statistics(self) -> BulkheadStats:
        with self._lock:
            return BulkheadStats(
                self.name,
                self.max_concurrent,
                self.max_queue,
                self.max_concurrent - len(self._tokens),
                len(self._waiters),
                self.admitted,
                self.rejected_full + self.rejected_timeout,
            )

    def __repr__(self) -> str:
        return (
            f"Bulkhead({self.name!r}, max_concurrent={self.max_concurrent}, "
            f"max_queue={self.max_queue})"
        )
