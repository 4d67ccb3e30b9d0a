"""The generic cell rate algorithm (GCRA): a quota of ``rate`` per second with a ``burst``.

GCRA is the token bucket written with one number per key instead of two: the *theoretical
arrival time* (TAT), the moment at which the key's bucket would be full again if nothing
else arrived. Each admitted unit pushes the TAT ``interval = 1 / rate`` seconds further; a
request is admitted while the TAT it would leave is no more than ``tolerance = burst *
interval`` ahead of now. So an idle key admits ``burst`` units at once, then one unit
every ``interval``, and in any window of ``t`` seconds never more than ``rate * t +
burst``.

One number per key is what makes the shared form cheap: the Redis store keeps the TAT in
one key and runs this same step in one Lua script, with the Redis server's clock.

The step is pure: it takes the stored TAT and a clock reading and returns the verdict and
the TAT to store. It never reads a clock, never sleeps, never locks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Quota", "Verdict", "step"]

# Clock readings are floats: 0.1 + 0.2 is not 0.3, and a request arriving exactly on its
# slot must not be refused for a rounding error. A nanosecond is far below any clock's
# resolution and far above float rounding at the magnitudes of monotonic clocks.
_SLACK = 1e-9


@dataclass(frozen=True, slots=True)
class Quota:
    """``rate`` units per second with a ``burst`` (both already checked), as GCRA needs them."""

    rate: float
    burst: int

    @property
    def interval(self) -> float:
        """Seconds between units at the sustained rate (the GCRA emission interval)."""
        return 1.0 / self.rate

    @property
    def tolerance(self) -> float:
        """How far ahead of now the TAT may run: ``burst`` intervals."""
        return self.burst / self.rate


@dataclass(frozen=True, slots=True)
class Verdict:
    """The answer for one request.

    ``allowed``: admit it. ``remaining``: whole units still available at once after this
    request. ``retry_after``: seconds until the request would be admitted (0.0 when
    allowed). ``reset``: seconds until the key's full burst is available again.
    """

    allowed: bool
    remaining: int
    retry_after: float
    reset: float


def step(tat: float | None, now: float, quota: Quota, cost: int = 1) -> tuple[Verdict, float]:
    """Decide a request of ``cost`` units at ``now``; ``(verdict, TAT to store)``.

    ``tat`` is the key's stored TAT, ``None`` for a key never seen (or forgotten: the same
    thing, as a TAT in the past means a full bucket).
    """
    interval = 1.0 / quota.rate
    tolerance = quota.burst * interval
    base = now if tat is None or tat < now else tat
    after = base + cost * interval
    ahead = after - now
    if ahead > tolerance + _SLACK:
        free = base - now
        return (
            Verdict(
                allowed=False,
                remaining=_units(tolerance - free, interval),
                retry_after=ahead - tolerance,
                reset=free,
            ),
            base,
        )
    return (
        Verdict(
            allowed=True,
            remaining=_units(tolerance - ahead, interval),
            retry_after=0.0,
            reset=ahead,
        ),
        after,
    )


def _units(room: float, interval: float) -> int:
    """Whole units that fit in ``room`` seconds of tolerance."""
    return max(0, math.floor(room / interval + _SLACK))
