"""The checks every constructor applies to its numbers, written once.

A policy built from a bad number does not fail where the number was written: NaN compares
false with everything, so ``Timeout(nan)`` or ``failure_rate=nan`` quietly switch a check
off; ``True`` is the integer 1 to Python, so ``Timeout(True)`` is a one-second timeout
nobody meant; ``"5"`` is a config value that skipped its parsing; a negative wait or a
thousand-year one surfaces as an ``OverflowError`` deep in the event loop on the first
call. So every public constructor runs its arguments through these functions and raises
:class:`~seawall.ConfigError` naming the argument, at construction.

The rules:

* A duration is a real number of seconds or a :class:`~datetime.timedelta`; never a bool
  or a string. ``inf`` means "no limit" where the argument allows it (a timeout, a
  deadline, a queue wait); elsewhere it is rejected. A finite duration is at most
  :data:`MAX_SECONDS`: the operating system's timed waits overflow not far above it.
* A count is an integer, never a bool or a float.
* A ratio or factor is a finite real number within the documented interval.
* A name is a string: it labels events, log lines and metrics.
"""

from __future__ import annotations

import math
import numbers
import operator
from datetime import timedelta
from typing import NoReturn, TypeGuard

from seawall._errors import ConfigError

__all__ = [
    "MAX_BUCKETS",
    "MAX_COUNT",
    "MAX_SECONDS",
    "MIN_WINDOW",
    "callable_or_none",
    "count",
    "name",
    "optional_seconds",
    "real",
    "seconds",
]

# The shortest sliding window: its buckets must stay wider than clock resolution.
MIN_WINDOW = 0.001
MAX_SECONDS = 1e9
"""The longest finite duration taken (about 31 years); pass ``inf`` for "no limit"."""

MAX_COUNT = 1_000_000
"""The largest size allocated up front (bulkhead slots, a breaker's count window)."""

MAX_BUCKETS = 10_000
"""The most slices a sliding window is cut into: finer slices measure nothing more."""


def _fail(what: str, rule: str, value: object) -> NoReturn:
    raise ConfigError(f"{what} must be {rule}, got {value!r}")


def _is_real(value: object) -> TypeGuard[numbers.Real]:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def seconds(
    value: object,
    what: str,
    *,
    positive: bool = False,
    infinite: bool = True,
    minimum: float = 0.0,
) -> float:
    """``value`` as float seconds, or :class:`ConfigError` naming ``what``.

    ``positive`` rejects zero; ``infinite`` allows ``inf`` (the caller decides what it
    means, always "no limit"); ``minimum`` is the shortest duration the caller can use
    (a sliding window of buckets needs buckets wider than float rounding).
    """
    if isinstance(value, timedelta):
        result = value.total_seconds()
    elif _is_real(value):
        result = float(value)
    else:
        _fail(what, "a number of seconds or a timedelta", value)
    if result == math.inf and infinite:
        return result
    low = "a positive" if positive else "a non-negative"
    limit = "" if not infinite else " (or inf for no limit)"
    if not (result > 0.0 if positive else result >= 0.0) or not result <= MAX_SECONDS:
        _fail(what, f"{low} number of seconds up to {MAX_SECONDS:g}{limit}", value)
    if result < minimum:
        _fail(what, f"at least {minimum:g} seconds", value)
    return result


def optional_seconds(
    value: object,
    what: str,
    *,
    positive: bool = False,
) -> float | None:
    """Seconds for an optional bound: ``None`` and ``inf`` both mean "no bound" (``None``)."""
    if value is None:
        return None
    result = seconds(value, what, positive=positive)
    return None if result == math.inf else result


def count(value: object, what: str, *, minimum: int = 1, maximum: int | None = None) -> int:
    """``value`` as an ``int`` within ``[minimum, maximum]``, or :class:`ConfigError`."""
    rule = f"an integer >= {minimum}" if maximum is None else f"an integer {minimum}..{maximum}"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        _fail(what, rule, value)
    result = operator.index(value)
    if result < minimum or (maximum is not None and result > maximum):
        _fail(what, rule, value)
    return result


def real(
    value: object,
    what: str,
    *,
    low: float = -math.inf,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """``value`` as a finite float within the interval, or :class:`ConfigError`.

    The interval is ``[low, high]``; ``low_open``/``high_open`` exclude an end.
    """
    result = float(value) if _is_real(value) else math.nan
    above = result > low if low_open else result >= low
    below = result < high if high_open else result <= high
    if not (math.isfinite(result) and above and below):
        _fail(what, _interval(low, high, low_open, high_open), value)
    return result


def _interval(low: float, high: float, low_open: bool, high_open: bool) -> str:
    if high == math.inf:
        return f"a finite number {'>' if low_open else '>='} {low:g}"
    if low == -math.inf:
        return f"a number {'<' if high_open else '<='} {high:g}"
    left, right = "(" if low_open else "[", ")" if high_open else "]"
    return f"a number within {left}{low:g}, {high:g}{right}"


def name(value: object, what: str = "name") -> str:
    """A policy's name: a string, since it labels events, logs and metrics."""
    if not isinstance(value, str):
        _fail(what, "a string", value)
    return value


def callable_or_none(value: object, what: str) -> None:
    """Reject a non-callable where a function is expected (it would fail on first use)."""
    if value is not None and not callable(value):
        _fail(what, "a callable", value)
