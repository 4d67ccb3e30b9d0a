"""Sliding windows of call outcomes for the circuit breaker.

Two shapes, as in resilience4j: a *time* window of 1 s buckets (what happened in the last
30 s, whatever the traffic) and a *count* window (the last N calls). Both keep running
totals, so recording and reading are O(1) and the breaker can re-check its thresholds
after every call.
"""

from __future__ import annotations

import math

__all__ = ["CountWindow", "TimeWindow", "Window"]


class Window:
    """Running totals of calls, failures and slow calls."""

    __slots__ = ("calls", "failures", "slow")

    def __init__(self) -> None:
        self.calls = 0
        self.failures = 0
        self.slow = 0

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

    __slots__ = ("_bucket", "_calls", "_end", "_failures", "_head", "_j", "_slow")

    def __init__(self, seconds: float, now: float, bucket: float = 1.0) -> None:
        super().__init__()
        self._bucket = bucket
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
                self.calls -= self._calls[j]
                self.failures -= self._failures[j]
                self.slow -= self._slow[j]
                self._calls[j] = self._failures[j] = self._slow[j] = 0
        self._head = index
        self._j = index % n
        self._end = (index + 1) * self._bucket

    def success(self, now: float) -> None:
        """Record one fast, successful call (the breaker's hot path)."""
        if now >= self._end:
            self.refresh(now)
        self._calls[self._j] += 1
        self.calls += 1

    def add(self, now: float, failed: bool, slow: bool) -> None:
        if now >= self._end:
            self.refresh(now)
        j = self._j
        self._calls[j] += 1
        self.calls += 1
        if failed:
            self._failures[j] += 1
            self.failures += 1
        if slow:
            self._slow[j] += 1
            self.slow += 1

    def reset(self) -> None:
        n = len(self._calls)
        self._calls = [0] * n
        self._failures = [0] * n
        self._slow = [0] * n
        self.calls = self.failures = self.slow = 0


class CountWindow(Window):
    """Outcomes of the last ``size`` calls."""

    __slots__ = ("_next", "_outcomes")

    def __init__(self, size: int) -> None:
        super().__init__()
        # Each slot: 0 empty, else 1 + 2*failed + 4*slow.
        self._outcomes = [0] * size
        self._next = 0

    def add(self, now: float, failed: bool, slow: bool) -> None:
        i = self._next
        old = self._outcomes[i]
        if old:
            self.calls -= 1
            self.failures -= (old >> 1) & 1
            self.slow -= (old >> 2) & 1
        self._outcomes[i] = 1 | (failed << 1) | (slow << 2)
        self.calls += 1
        self.failures += failed
        self.slow += slow
        self._next = (i + 1) % len(self._outcomes)

    def reset(self) -> None:
        self._outcomes = [0] * len(self._outcomes)
        self._next = 0
        self.calls = self.failures = self.slow = 0
