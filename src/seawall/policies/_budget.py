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
set. So the budget also keeps a failure reserve, as gRPC's retry throttling does
(gRFC A6): ``max_tokens`` tokens (2 by default), one taken by each call whose first
attempt fails for a reason a retry could fix, ``token_ratio`` (0.5) given back by each
call that did not fail. A call may start retrying only while the reserve is above half
full, and once it starts it keeps all of its attempts: the reserve is charged per
failed *call*, not per attempt, so one unlucky call is retried exactly as configured.

With 2 tokens a caller that sends nothing else gets one retried call per outage of a
dependency and none after it, until three successes refill the reserve; a busy caller
of a dead dependency empties it at once and adds no retries at all. A flaky dependency
(fewer than one failed call in three) keeps it full, and retries go on within the
ratio and floor. ``max_tokens=None`` turns the reserve off and leaves the ratio and
floor alone. The default, ``max_tokens="auto"``, is 2 tokens for a budget whose ratio
is below 1 and no reserve for one of 1 or more: a budget that allows as many retries as
requests asks for every failure to be retried (an idempotent charge retried through a
lossy network), and the reserve would refuse exactly those.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from seawall._clock import SYSTEM_CLOCK, Clock
from seawall._validate import MAX_BUCKETS, MIN_WINDOW, count, real, seconds

__all__ = ["DEFAULT_MAX_TOKENS", "RetryBudget", "RetryBudgetStats"]

DEFAULT_MAX_TOKENS = 2.0
"""The reserve a caller of a dead dependency spends on one retried call per outage."""


@dataclass(frozen=True, slots=True)
class RetryBudgetStats:
    requests: int
    retries: int
    available: float


class RetryBudget:
    """Allow retries up to ``ratio`` × requests + ``min_per_second`` × ``window``, per window.

    A failed call may start retrying only while the failure reserve (``max_tokens``:
    2 by default while ``ratio`` < 1; ``None`` for none) is above half full; see the
    module docstring.
    """

    __slots__ = (
        "_buckets",
        "_clock",
        "_counted",
        "_current",
        "_end",
        "_failed",
        "_failures",
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
        max_tokens: float | Literal["auto"] | None = "auto",
        token_ratio: float = 0.5,
    ) -> None:
        ratio = real(ratio, "retry budget ratio", low=0.0, high=1000.0)
        min_per_second = real(min_per_second, "min_per_second", low=0.0)
        window = seconds(
            window, "retry budget window", positive=True, infinite=False, minimum=MIN_WINDOW
        )
        buckets = count(buckets, "retry budget buckets", maximum=MAX_BUCKETS)
        if max_tokens == "auto":
            max_tokens = DEFAULT_MAX_TOKENS if ratio < 1.0 else None
        elif max_tokens is not None:
            max_tokens = real(max_tokens, "retry budget max_tokens", low=1.0, high=1e9)
        token_ratio = real(token_ratio, "retry budget token_ratio", low=0.0, high=1000.0)
        self.max_tokens = max_tokens
        self.token_ratio = token_ratio
        self._tokens = 0.0 if max_tokens is None else max_tokens
        # Requests that left the window, so deposits ever made = _counted + _requests;
        # _failures is how many calls failed (charged the reserve); _seen is how many
        # calls that did not fail the reserve has been refilled for.
        self._counted = 0
        self._failures = 0
        self._seen = 0
        self.ratio = ratio
        self.min_per_second = min_per_second
        self.window = window
        self._clock = clock or SYSTEM_CLOCK
        self._width = window / buckets
        # Per-bucket [requests, retries, failed calls]; totals are kept alongside so reads
        # are O(1).
        self._buckets = [[0, 0, 0] for _ in range(buckets)]
        self._requests = 0
        self._retries = 0
        self._failed = 0
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
                self._failed -= bucket[2]
                bucket[0] = bucket[1] = bucket[2] = 0
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
        """The reserve now, refilled by the calls that did not fail since the last look.

        Calls still in flight count as not failed until they fail, which can refill the
        reserve early by at most the number in flight: ``_seen`` only moves forward, so
        a call that fails later is not refilled for twice.
        """
        good = self._counted + self._requests - self._failures
        if good > self._seen:
            self._tokens = min(
                self.max_tokens or 0.0, self._tokens + self.token_ratio * (good - self._seen)
            )
            self._seen = good
        return self._tokens

    def failed(self) -> bool:
        """Count one call whose first attempt failed for a reason a retry could fix.

        Returns whether the reserve lets that call retry (it was above half full); the
        call is charged one token either way. Its later attempts are not charged: a call
        that may retry keeps all of its attempts, within the ratio and floor.
        """
        with self._lock:
            self._advance(self._clock.now())[2] += 1
            self._failed += 1
            if self.max_tokens is None:
                return True
            self._failures += 1
            allowed = self._refill() > self.max_tokens / 2
            self._tokens = max(0.0, self._tokens - 1.0)
            return allowed

    def failing(self) -> bool:
        """Whether the dependency is failing broadly: half or more of the window's calls failed.

        A refused retry of such a dependency is not retried by any layer above either
        (:mod:`seawall._pushback`); a flaky one (a fifth of its replicas failing) is
        left to the callers above, whose own budgets may retry around it.
        """
        with self._lock:
            self._advance(self._clock.now())
            return self._failed > 0 and self._failed * 2 >= self._requests

    def _available(self) -> float:
        floor = self.min_per_second * self.window
        return self.ratio * self._requests + floor - self._retries

    def try_withdraw(self) -> bool:
        """Take one retry from the ratio and floor; ``False`` (and nothing taken) when spent.

        The failure reserve is asked once per call, by :meth:`failed`, not here.
        """
        now = self._clock.now()
        with self._lock:
            bucket = self._advance(now)
            if self._available() < 1.0:
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
