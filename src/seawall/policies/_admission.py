"""The load shedder's decision core: admission by priority share, a CoDel queue, a limit.

:class:`AdmissionState` is a pure state machine fed clock readings; it waits for nothing
and takes no lock (its :class:`~seawall.LoadShedder` holds one around every step). What
each rule means is told in :mod:`seawall.policies._shedder`. The one step taken on every
request, a permit below a priority's share and its return, is written out in the
shedder's ``enter_now``/``leave_now`` under its lock: a method call there costs as much
as the step.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import Final

from seawall.policies._limits import Limit
from seawall.wire import PRIORITIES

__all__ = ["GRANTED", "QUEUED", "SHED", "AdmissionState", "Waiter"]

QUEUED: Final = 0
GRANTED: Final = 1
SHED: Final = 2

_RTT_SMOOTHING = 0.1


class Waiter:
    """One queued call: its priority rank, when it queued, and how it is woken."""

    __slots__ = ("enqueued", "rank", "reason", "state", "wake")

    def __init__(self, rank: int, enqueued: float, wake: Callable[[], None]) -> None:
        self.rank = rank
        self.enqueued = enqueued
        self.wake = wake
        self.state = QUEUED
        self.reason = ""


class AdmissionState:
    """The pure admission state machine behind :class:`LoadShedder` (not locked).

    Every method takes the clock reading ``now``; none waits. Methods that can start
    queued calls return the waiters to wake, already marked ``GRANTED`` or ``SHED``.
    """

    def __init__(
        self,
        limit: Limit,
        *,
        max_concurrent: int,
        shares: tuple[float, float, float],
        max_queue: int,
        queue_target: float,
        queue_interval: float,
        lifo: bool,
    ) -> None:
        self.limit = limit
        self.max_concurrent = max_concurrent
        self.shares = shares
        self.max_queue = max_queue
        self.queue_target = queue_target
        self.queue_interval = queue_interval
        self.lifo = lifo
        self.inflight = 0
        self.queued = 0
        self.queues: tuple[deque[Waiter], ...] = tuple(deque() for _ in PRIORITIES)
        self.nonempty_since: list[float | None] = [None] * len(PRIORITIES)
        self.admitted = [0] * len(PRIORITIES)
        self.shed = [0] * len(PRIORITIES)
        # Of the admitted, those that waited in the queue first (counted in both).
        self.admitted_after_queue = [0] * len(PRIORITIES)
        self.smoothed_rtt: float | None = None

    # -- decisions -------------------------------------------------------------------

    def threshold(self, rank: int) -> int:
        """How many calls may be in flight for a call of ``rank`` to start."""
        if rank == 0:
            return self.max_concurrent
        share = self.shares[rank - 1]
        return min(self.max_concurrent, max(1, math.floor(share * self.limit.limit)))

    def standing(self, now: float, rank: int) -> bool:
        """Whether the queue of ``rank`` has stayed non-empty longer than ``queue_interval``."""
        since = self.nonempty_since[rank]
        return since is not None and now - since >= self.queue_interval

    def can_start(self, rank: int) -> bool:
        return self.inflight < self.threshold(rank)

    def try_admit(
        self, rank: int, now: float, max_wait: float | None
    ) -> tuple[bool, float, list[Waiter]]:
        """Admit at once (True), or say how long a new waiter may queue (False, wait).

        A wait of 0 means refused. The list holds waiters evicted to make room (to wake).
        """
        if self.inflight < self.threshold(rank):
            self.inflight += 1
            self.admitted[rank] += 1
            return True, 0.0, []
        if max_wait is not None and max_wait <= 0.0:
            return False, 0.0, []
        evicted: list[Waiter] = []
        if self.queued >= self.max_queue:
            victim = self._evictable(rank)
            if victim is None:
                return False, 0.0, []
            victim.state = SHED
            victim.reason = "evicted from a full queue by a more important call"
            self.shed[victim.rank] += 1
            self.queued -= 1
            evicted.append(victim)
        wait = self.queue_target if self.standing(now, rank) else self.queue_interval
        if max_wait is not None and max_wait < wait:
            wait = max_wait
        return False, wait, evicted

    def _evictable(self, rank: int) -> Waiter | None:
        for lower in range(len(self.queues) - 1, rank, -1):
            queue = self.queues[lower]
            if queue:
                victim = queue.pop()
                if not queue:
                    self.nonempty_since[lower] = None
                return victim
        return None

    def enqueue(self, waiter: Waiter) -> None:
        queue = self.queues[waiter.rank]
        if not queue:
            self.nonempty_since[waiter.rank] = waiter.enqueued
        queue.append(waiter)
        self.queued += 1

    def refuse(self, rank: int) -> None:
        self.shed[rank] += 1

    def abandon(self, waiter: Waiter, now: float, reason: str) -> list[Waiter]:
        """A waiter gave up (timeout, cancellation); forget it or hand its slot on."""
        if waiter.state == QUEUED:
            queue = self.queues[waiter.rank]
            queue.remove(waiter)
            self.queued -= 1
            if not queue:
                self.nonempty_since[waiter.rank] = None
            waiter.state = SHED
            waiter.reason = reason
            self.shed[waiter.rank] += 1
            return []
        if waiter.state == GRANTED:
            return self.release(now)
        return []

    def release(
        self,
        now: float,
        *,
        rtt: float | None = None,
        inflight: int = 0,
        dropped: bool = False,
    ) -> list[Waiter]:
        """A call finished; feed its sample (if any) and start whoever may start now."""
        self.inflight -= 1
        if rtt is not None:
            self.limit.update(now=now, rtt=rtt, inflight=inflight, dropped=dropped)
            if not dropped:
                srtt = self.smoothed_rtt
                self.smoothed_rtt = rtt if srtt is None else srtt + (rtt - srtt) * _RTT_SMOOTHING
        return self.drain(now) if self.queued else []

    def drain(self, now: float) -> list[Waiter]:
        """Start queued calls, most important first, while there is room."""
        woken: list[Waiter] = []
        queues = self.queues
        while self.queued:
            rank = 0
            while not queues[rank]:
                rank += 1
            if self.inflight >= self.threshold(rank):
                break
            standing = self.standing(now, rank)
            queue = queues[rank]
            waiter = queue.pop() if standing and self.lifo else queue.popleft()
            self.queued -= 1
            if standing and now - waiter.enqueued > self.queue_target:
                # CoDel drops at dequeue: under a standing queue, old work is not worth doing.
                waiter.state = SHED
                waiter.reason = "waited too long in a standing queue"
                self.shed[rank] += 1
            else:
                waiter.state = GRANTED
                self.inflight += 1
                self.admitted[rank] += 1
                self.admitted_after_queue[rank] += 1
            woken.append(waiter)
            if not queue:
                self.nonempty_since[rank] = None
        return woken

    def retry_after(self) -> float:
        return self.queue_interval if self.smoothed_rtt is None else self.smoothed_rtt
