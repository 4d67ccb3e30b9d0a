"""Concurrency limits: how many calls a load shedder lets run at once.

A limit is a pure state machine. It is fed one sample per finished call — the clock
reading, the round-trip time, how many calls were in flight when it started, and whether
it was *dropped* (timed out or refused downstream) — and answers with the current limit.
It never reads a clock or sleeps itself, so the same object runs on real time, on a
:class:`~seawall.testing.FakeClock` and in the simulator.

- :class:`FixedLimit`: a constant; the honest choice when capacity is known.
- :class:`AIMDLimit`: TCP's additive increase, multiplicative decrease. Grows by about one
  per limit's worth of good samples, backs off by ``backoff_ratio`` on a drop or on a
  round trip slower than ``latency_threshold``. Reacts only to hard signals.
- :class:`GradientLimit`: the latency gradient of Netflix concurrency-limits' Gradient2
  (and, in spirit, Envoy's adaptive concurrency filter). Latency that rises while the
  limit is saturated means calls are queueing somewhere downstream, so the limit shrinks
  in proportion to ``long-term RTT / recent RTT`` before anything times out.

Limits are not locked: the load shedder feeds them under its own lock.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Protocol, runtime_checkable

from seawall._errors import ConfigError
from seawall._validate import MIN_WINDOW, count, real, seconds

__all__ = ["AIMDLimit", "FixedLimit", "GradientLimit", "Limit"]


@runtime_checkable
class Limit(Protocol):
    """A concurrency limit fed by call samples."""

    @property
    def limit(self) -> int:
        """The number of calls allowed in flight now (``min_limit <= limit <= max_limit``)."""
        ...

    @property
    def max_limit(self) -> int:
        """The most the limit can ever be; a load shedder's default hard maximum."""
        ...

    def update(self, *, now: float, rtt: float, inflight: int, dropped: bool) -> int:
        """Feed one finished call; return the new limit."""
        ...


def _check_bounds(initial: int, min_limit: int, max_limit: int) -> None:
    initial = count(initial, "initial")
    min_limit = count(min_limit, "min_limit")
    max_limit = count(max_limit, "max_limit")
    if max_limit < min_limit:
        raise ConfigError(f"max_limit ({max_limit}) must be at least min_limit ({min_limit})")
    if not min_limit <= initial <= max_limit:
        raise ConfigError(
            f"initial limit {initial} must lie within [min_limit, max_limit] = "
            f"[{min_limit}, {max_limit}]"
        )


class FixedLimit:
    """A limit that never moves: samples are accepted and ignored."""

    __slots__ = ("_value",)

    def __init__(self, value: int) -> None:
        self._value = count(value, "a fixed concurrency limit")

    @property
    def limit(self) -> int:
        return self._value

    @property
    def max_limit(self) -> int:
        return self._value

    def update(self, *, now: float, rtt: float, inflight: int, dropped: bool) -> int:
        return self._value

    def __repr__(self) -> str:
        return f"FixedLimit({self._value})"


class AIMDLimit:
    """Additive increase, multiplicative decrease on drops and on slow round trips.

    The increase is ``increase / limit`` per good sample, about ``increase`` per limit's
    worth of calls (TCP's one segment per round trip), and only while the limit is actually
    used (at least half in flight): an idle service proves nothing about a larger limit.
    A decrease happens at most once per round trip of the sample that caused it, because a
    burst of timeouts is one congestion event, not twenty.
    """

    __slots__ = (
        "_backoff_ratio",
        "_increase",
        "_latency_threshold",
        "_limit",
        "_max",
        "_min",
        "_quiet_until",
    )

    def __init__(
        self,
        *,
        initial: int = 20,
        min_limit: int = 1,
        max_limit: int = 200,
        backoff_ratio: float = 0.9,
        increase: float = 1.0,
        latency_threshold: float | timedelta = 5.0,
    ) -> None:
        _check_bounds(initial, min_limit, max_limit)
        backoff_ratio = real(
            backoff_ratio, "backoff_ratio", low=0.0, high=1.0, low_open=True, high_open=True
        )
        increase = real(increase, "increase", low=0.0, low_open=True)
        latency_threshold = seconds(
            latency_threshold, "latency_threshold", positive=True, infinite=False
        )
        self._limit = float(initial)
        self._min = min_limit
        self._max = max_limit
        self._backoff_ratio = backoff_ratio
        self._increase = increase
        self._latency_threshold = latency_threshold
        self._quiet_until = -math.inf

    @property
    def limit(self) -> int:
        return int(self._limit)

    @property
    def max_limit(self) -> int:
        return self._max

    def update(self, *, now: float, rtt: float, inflight: int, dropped: bool) -> int:
        if dropped or rtt > self._latency_threshold:
            if now >= self._quiet_until:
                self._limit = max(float(self._min), self._limit * self._backoff_ratio)
                self._quiet_until = now + max(rtt, 0.0)
        elif inflight * 2 >= self._limit:
            self._limit = min(float(self._max), self._limit + self._increase / self._limit)
        return int(self._limit)

    def __repr__(self) -> str:
        return f"AIMDLimit(limit={self.limit}, min={self._min}, max={self._max})"


class GradientLimit:
    """A latency-gradient limit after Netflix's Gradient2.

    Samples are averaged over windows of ``window`` seconds holding at least
    ``min_samples`` calls. Each window's average RTT (*short*) is compared with an
    exponential average over ``long_window`` windows (*long*, the service's normal
    latency)::

        gradient = clamp(tolerance * long / short, 0.5, 1.0)
        new      = limit * gradient + headroom          # headroom = sqrt(limit)
        limit    = (1 - smoothing) * limit + smoothing * new, clamped to [min, max]

    While latency stays within ``tolerance`` of normal the gradient is 1 and the limit
    probes upward by the headroom; when calls start queueing downstream their RTT rises,
    the gradient drops below 1 and the limit falls — before anything times out, which is
    what AIMD waits for. A window containing a drop cannot grow the limit. When the long
    average is far above recent samples (latency recovered after a long bad period) it
    decays quickly, so the limit does not stay pinned by history. Windows where less than
    half the limit was in use leave the limit alone: an idle service says nothing about
    what a higher concurrency would do.
    """

    __slots__ = (
        "_count",
        "_dropped",
        "_limit",
        "_long",
        "_long_window",
        "_max",
        "_max_inflight",
        "_min",
        "_min_samples",
        "_smoothing",
        "_sum",
        "_tolerance",
        "_window",
        "_window_start",
    )

    def __init__(
        self,
        *,
        initial: int = 20,
        min_limit: int = 1,
        max_limit: int = 200,
        window: float | timedelta = 1.0,
        min_samples: int = 10,
        tolerance: float = 1.5,
        smoothing: float = 0.2,
        long_window: int = 600,
    ) -> None:
        _check_bounds(initial, min_limit, max_limit)
        window = seconds(window, "window", positive=True, infinite=False, minimum=MIN_WINDOW)
        min_samples = count(min_samples, "min_samples")
        tolerance = real(tolerance, "tolerance", low=1.0)
        smoothing = real(smoothing, "smoothing", low=0.0, high=1.0, low_open=True)
        long_window = count(long_window, "long_window (in windows)")
        self._limit = float(initial)
        self._min = min_limit
        self._max = max_limit
        self._window = window
        self._min_samples = min_samples
        self._tolerance = tolerance
        self._smoothing = smoothing
        self._long_window = long_window
        self._long: float | None = None
        self._window_start: float | None = None
        self._sum = 0.0
        self._count = 0
        self._max_inflight = 0
        self._dropped = False

    @property
    def limit(self) -> int:
        return int(self._limit)

    @property
    def max_limit(self) -> int:
        return self._max

    @property
    def long_rtt(self) -> float | None:
        """The long-term average RTT: what this limit believes is normal latency."""
        return self._long

    def update(self, *, now: float, rtt: float, inflight: int, dropped: bool) -> int:
        if self._window_start is None:
            self._window_start = now
        if dropped:
            self._dropped = True
        elif rtt > 0.0:
            self._sum += rtt
            self._count += 1
        if inflight > self._max_inflight:
            self._max_inflight = inflight
        if now - self._window_start >= self._window and (
            self._count >= self._min_samples or (self._dropped and self._count > 0)
        ):
            self._close_window(now)
        return int(self._limit)

    def _close_window(self, now: float) -> None:
        short = self._sum / self._count
        long = self._long
        if long is None:
            long = short
        else:
            long += (short - long) / self._long_window
            if long > 2.0 * short:
                # Latency has recovered from a long bad spell: forget it faster.
                long *= 0.95
        self._long = long
        limit = self._limit
        if self._max_inflight * 2 >= limit:
            gradient = min(1.0, max(0.5, self._tolerance * long / short))
            if self._dropped:
                gradient = min(gradient, 0.9)
            growth = math.sqrt(limit) if gradient >= 1.0 else 0.0
            target = limit * gradient + growth
            limit = (1.0 - self._smoothing) * limit + self._smoothing * target
            self._limit = min(float(self._max), max(float(self._min), limit))
        self._window_start = now
        self._sum = 0.0
        self._count = 0
        self._max_inflight = 0
        self._dropped = False

    def __repr__(self) -> str:
        return f"GradientLimit(limit={self.limit}, min={self._min}, max={self._max})"
