"""Sliding windows of call outcomes for the circuit breaker.

Two shapes, as in resilience4j: a *time* window of 1 s buckets (what happened in the last
30 s, whatever the traffic) and a *count* window (the last N calls). Both keep running
totals of failures and slow calls, so the breaker can re-check its thresholds after every
failure in O(1).

A time window counts a fast success by one increment of the current bucket, taken
without the breaker's lock (the closed state's hot path). Its call total is therefore
summed from the buckets when read, never kept as a running total that a racing unlocked
increment could leave permanently off: under the GIL a race can at worst lose a success,
which makes the breaker stricter, never looser.
"""

from __future__ import annotations

import math

__all__ = ["CountWindow", "TimeWindow", "Window"]


class Window:
    """Totals of calls, failures and slow calls."""

    __slots__ = ("failures", "slow")

    def __init__(self) -> None:
        self.failures = 0
        self.slow = 0

    @property
    def calls(self) -> int:
        raise NotImplementedError

    @property
    def recorded(self) -> int:
        """Every call ever recorded, including those that slid out or were reset."""
        raise NotImplementedError

    def add(self, now: float, failed: bool, slow: bool) -> None:
        raise NotImplementedError

    def success(self, now: float) -> None:
        self.add(now, False, False)

    def refresh(self, now: float) -> None:
        """Drop outcomes that fell out of the window by ``now``."""

    def reset(self) -> None:
        raise NotImplementedError


class TimeWindow(Window):
    """Outcomes of the last ``seconds``, in buckets of ``bucket`` seconds."""

    __slots__ = ("_bucket", "_calls", "_end", "_failures", "_head", "_j", "_retired", "_slow")

    def __init__(self, seconds: float, now: float, bucket: float = 1.0) -> None:
        super().__init__()
        self._bucket = bucket
        self._retired = 0  # calls of buckets that slid out or were reset
        n = max(1, math.ceil(seconds / bucket))
        self._calls = [0] * n
        self._failures = [0] * n
        self._slow = [0] * n
        self._head = math.floor(now / bucket)
        self._j = self._head % n
        self._end = (self._head + 1) * bucket

    def refresh(self, now: float) -> None:
        index = math.floor(now / self._bucket)
        head = self._head
        if index <= head:
            return
        n = len(self._calls)
        if index - head >= n:
            self.reset()
        else:
            for i in range(head + 1, index + 1):
                j = i % n
                self._retired += self._calls[j]
                self.failures -= self._failures[j]
                self.slow -= self._slow[j]
                self._calls[j] = self._failures[j] = self._slow[j] = 0
        self._head = index
        self._j = index % n
        self._end = (index + 1) * self._bucket

    @property
    def calls(self) -> int:
        return sum(self._calls)

    @property
    def recorded(self) -> int:
        return self._retired + sum(self._calls)

    def success(self, now: float) -> None:
        """Record one fast, successful call (the breaker's hot path)."""
        if now >= self._end:
            self.refresh(now)
        self._calls[self._j] += 1

    def add(self, now: float, failed: bool, slow: bool) -> None:
        if now >= self._end:
            self.refresh(now)
        j = self._j
        self._calls[j] += 1
        if failed:
            self._failures[j] += 1
            self.failures += 1
        if slow:
            self._slow[j] += 1
            self.slow += 1

    def reset(self) -> None:
        n = len(self._calls)
        self._retired += sum(self._calls)
        self._calls = [0] * n
        self._failures = [0] * n
        self._slow = [0] * n
        self.failures = self.slow = 0


class CountWindow(Window):
    """Outcomes of the last ``size`` calls."""

    __slots__ = ("_count", "_next", "_outcomes", "_recorded")

    def __init__(self, size: int) -> None:
        super().__init__()
        self._count = 0
        self._recorded = 0
        # Each slot: 0 empty, else 1 + 2*failed + 4*slow.
        self._outcomes = [0] * size
        self._next = 0

    def add(self, now: float, failed: bool, slow: bool) -> None:
        i = self._next
        old = self._outcomes[i]
        if old:
            self._count -= 1
            self.failures -= (old >> 1) & 1
            self.slow -= (old >> 2) & 1
        self._outcomes[i] = 1 | (failed << 1) | (slow << 2)
        self._count += 1
        self._recorded += 1
        self.failures += failed
        self.slow += slow
        self._next = (i + 1) % len(self._outcomes)

    def reset(self) -> None:
        self._outcomes = [0] * len(self._outcomes)
        self._next = 0
        self._count = self.failures = self.slow = 0

    @property
    def calls(self) -> int:
        return self._count

    @property
    def recorded(self) -> int:
        return self._recorded
