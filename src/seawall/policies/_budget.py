"""RetryBudget: retries may add at most a fixed fraction of load to a dependency.

Per-call attempt caps are not enough: when a dependency is down, every caller's three
attempts triple its load exactly when it can least take it (a cascading failure). A
budget shared by all callers of one dependency caps retries to ``ratio`` of recent
requests plus a small floor, so a healthy system retries freely and a sick one
stops amplifying. This is Finagle's ``RetryBudget`` (and gRPC's retry throttling in
spirit): each request deposits ``ratio`` tokens that expire after ``window``; each retry
withdraws one; ``min_per_second * window`` tokens are always available as a floor.

A floor in retries per second is per caller, and callers multiply: 10,000 clients each
allowed 10 retries/s retry every failure of a dead dependency, however the ratio is
set. With ``max_tokens`` set (4 is a good value; off by default, because a caller that
meets a burst of failures then retries less) the budget also throttles as gRPC's retry
throttling does (gRFC A6): a reserve
of ``max_tokens`` tokens loses one for each transient failure of an attempt and gains
``token_ratio`` for each request, and retries are allowed only while it is above half
full. A flaky dependency (fewer failed attempts than ``token_ratio`` per request) keeps
it full and retries go on within the ratio and floor; a dead one empties it after a
retry or two per caller, and then nobody retries until requests refill it. The reserve
is refilled per request rather than per success (gRPC) because requests are what every
call already counts, and so that a deploy where a fifth of the replicas fail is still
retried around.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import timedelta

from seawall._clock import SYSTEM_CLOCK, Clock
from seawall._validate import MAX_BUCKETS, MIN_WINDOW, count, real, seconds

__all__ = ["RetryBudget", "RetryBudgetStats"]


@dataclass(frozen=True, slots=True)
class RetryBudgetStats:
    requests: int
    retries: int
    available: float


class RetryBudget:
    """Allow retries up to ``ratio`` × requests + ``min_per_second`` × ``window``, per window.

    With ``max_tokens``, only while the failure reserve is above half of it (default
    ``None``: no reserve).
    """

    __slots__ = (
        "_buckets",
        "_clock",
        "_counted",
        "_current",
        "_end",
        "_head",
        "_lock",
        "_requests",
        "_retries",
        "_seen",
        "_tokens",
        "_width",
        "max_tokens",
        "min_per_second",
        "ratio",
        "token_ratio",
        "window",
    )

    def __init__(
        self,
        ratio: float = 0.1,
        min_per_second: float = 10.0,
        window: float | timedelta = 10.0,
        *,
        clock: Clock | None = None,
        buckets: int = 10,
        max_tokens: float | None = None,
        token_ratio: float = 0.5,
    ) -> None:
        ratio = real(ratio, "retry budget ratio", low=0.0, high=1000.0)
        min_per_second = real(min_per_second, "min_per_second", low=0.0)
        window = seconds(
            window, "retry budget window", positive=True, infinite=False, minimum=MIN_WINDOW
        )
        buckets = count(buckets, "retry budget buckets", maximum=MAX_BUCKETS)
        if max_tokens is not None:
            max_tokens = real(max_tokens, "retry budget max_tokens", low=1.0, high=1e9)
        token_ratio = real(token_ratio, "retry budget token_ratio", low=0.0, high=1000.0)
        self.max_tokens = max_tokens
        self.token_ratio = token_ratio
        self._tokens = 0.0 if max_tokens is None else max_tokens
        # Requests that left the window, so deposits ever made = _counted + _requests;
        # _seen is how many of them the reserve has been refilled for.
        self._counted = 0
        self._seen = 0
        self.ratio = ratio
        self.min_per_second = min_per_second
        self.window = window
        self._clock = clock or SYSTEM_CLOCK
        self._width = window / buckets
        # Per-bucket [requests, retries]; totals are kept alongside so reads are O(1).
        self._buckets = [[0, 0] for _ in range(buckets)]
        self._requests = 0
        self._retries = 0
        self._head = math.floor(self._clock.now() / self._width)
        self._current = self._buckets[self._head % buckets]
        self._end = (self._head + 1) * self._width
        self._lock = threading.Lock()

    def _advance(self, now: float) -> list[int]:
        if now < self._end:
            return self._current
        index = math.floor(now / self._width)
        head = self._head
        if index > head:
            n = len(self._buckets)
            for step in range(min(index - head, n)):
                bucket = self._buckets[(head + 1 + step) % n]
                self._counted += bucket[0]
                self._requests -= bucket[0]
                self._retries -= bucket[1]
                bucket[0] = bucket[1] = 0
            self._head = index
            self._current = self._buckets[index % len(self._buckets)]
            self._end = (index + 1) * self._width
        return self._current

    def deposit(self) -> None:
        """Count one request (a first attempt)."""
        now = self._clock.now()
        if now >= self._end:
            with self._lock:
                self._advance(now)
        # No lock here, on every call's path: under the GIL a race between two deposits
        # can only lose a count, which makes the budget stricter, never looser.
        # Withdrawals, which must not overspend, take the lock.
        self._current[0] += 1
        self._requests += 1

    def _refill(self) -> float:
        """The reserve now, refilled by the requests counted since the last look."""
        total = self._counted + self._requests
        if total != self._seen:
            self._tokens = min(
                self.max_tokens or 0.0, self._tokens + self.token_ratio * (total - self._seen)
            )
            self._seen = total
        return self._tokens

    def failed(self) -> None:
        """Count one attempt that failed for a reason a retry could fix (drains the reserve)."""
        if self.max_tokens is None:
            return
        with self._lock:
            self._advance(self._clock.now())
            self._tokens = max(0.0, self._refill() - 1.0)

    def _available(self) -> float:
        floor = self.min_per_second * self.window
        return self.ratio * self._requests + floor - self._retries

    def try_withdraw(self) -> bool:
        """Take one retry from the budget; ``False`` (and nothing taken) when it is spent."""
        now = self._clock.now()
        with self._lock:
            bucket = self._advance(now)
            if self._available() < 1.0:
                return False
            if self.max_tokens is not None and self._refill() <= self.max_tokens / 2:
                return False
            bucket[1] += 1
            self._retries += 1
            return True

    def statistics(self) -> RetryBudgetStats:
        with self._lock:
            self._advance(self._clock.now())
            return RetryBudgetStats(self._requests, self._retries, self._available())

    def __repr__(self) -> str:
        return (
            f"RetryBudget(ratio={self.ratio}, min_per_second={self.min_per_second}, "
            f"window={self.window}, max_tokens={self.max_tokens}, "
            f"token_ratio={self.token_ratio})"
        )
