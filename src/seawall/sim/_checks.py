"""Argument checks shared by the simulator's constructors.

A simulation fed a NaN rate or a negative service time does not fail: it runs and
reports numbers that mean nothing. Every number is checked where it is given, so the
error names the argument instead of surfacing as a strange result.
"""

from __future__ import annotations

import math

from seawall._errors import ConfigError

__all__ = ["count", "non_negative", "positive"]


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ConfigError(f"{name} must be finite, got {value!r}")
    return float(value)


def positive(name: str, value: object) -> float:
    """``value`` as a float, if it is a finite number > 0."""
    number = _number(name, value)
    if number <= 0:
        raise ConfigError(f"{name} must be > 0, got {value!r}")
    return number


def non_negative(name: str, value: object) -> float:
    """``value`` as a float, if it is a finite number >= 0."""
    number = _number(name, value)
    if number < 0:
        raise ConfigError(f"{name} must be >= 0, got {value!r}")
    return number


def count(name: str, value: object, minimum: int, maximum: int | None = None) -> int:
    """``value`` if it is an int (not a bool) within ``minimum``..``maximum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be a whole number, got {value!r}")
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value!r}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{name} must be <= {maximum:,}, got {value!r}")
    return value
