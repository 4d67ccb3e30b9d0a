"""Backoff schedules: how long to wait before attempt n+1.

Exponential with proportional jitter is the default (1 s, 2 s, 4 s, ±20 %). The
AWS Architecture Blog formulas ("Exponential Backoff And Jitter") are here too: *full*
jitter spreads retries the most, *equal* keeps a floor of half the delay, *decorrelated*
grows from the previous sleep. Jitter matters: without it every client that failed
together retries together and hits the recovering service at the same instant.

A schedule is a frozen value; :meth:`Backoff.delay` is a pure function of the retry
number, the previous delay and an injected ``random.Random``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from seawall._errors import ConfigError
from seawall._validate import MAX_SECONDS, optional_seconds, real, seconds

__all__ = ["Backoff"]

Kind = Literal["exponential", "constant", "full_jitter", "equal_jitter", "decorrelated"]
_KINDS = ("exponential", "constant", "full_jitter", "equal_jitter", "decorrelated")


def _base_and_maximum(
    base: float | timedelta, maximum: float | timedelta
) -> tuple[float, float | None]:
    return seconds(base, "backoff base", infinite=False), seconds(maximum, "backoff maximum")


@dataclass(frozen=True, slots=True)
class Backoff:
    """A backoff schedule. Build one with the class methods, not the constructor."""

    kind: Kind
    initial: float
    multiplier: float = 2.0
    maximum: float | None = None
    jitter: float = 0.0

    def __post_init__(self) -> None:
        # Every delay is a finite, non-negative number of seconds: a NaN or infinite one
        # would reach the sleep of the first retry. An infinite maximum is no maximum.
        if self.kind not in _KINDS:
            raise ConfigError(f"backoff kind must be one of {', '.join(_KINDS)}, got {self.kind!r}")
        set_field = object.__setattr__
        set_field(self, "initial", seconds(self.initial, "backoff initial", infinite=False))
        set_field(self, "multiplier", real(self.multiplier, "backoff multiplier", low=1.0))
        set_field(self, "maximum", optional_seconds(self.maximum, "backoff maximum"))
        set_field(self, "jitter", real(self.jitter, "backoff jitter", low=0.0, high=1.0))
        if self.maximum is not None and self.maximum < self.initial:
            raise ConfigError(
                f"backoff maximum {self.maximum!r} is below the initial delay {self.initial!r}"
            )

    @classmethod
    def exponential(
        cls,
        initial: float | timedelta = 1.0,
        multiplier: float = 2.0,
        maximum: float | timedelta | None = None,
        jitter: float = 0.2,
    ) -> Backoff:
        """``initial * multiplier**(n-1)``, capped at ``maximum``, times ``1 ± jitter``."""
        return cls(
            "exponential",
            seconds(initial, "backoff initial", infinite=False),
            multiplier,
            None if maximum is None else seconds(maximum, "backoff maximum"),
            jitter,
        )

    @classmethod
    def constant(cls, delay: float | timedelta, jitter: float = 0.0) -> Backoff:
        """The same delay every time (times ``1 ± jitter``)."""
        return cls("constant", seconds(delay, "backoff delay", infinite=False), 1.0, None, jitter)

    @classmethod
    def full_jitter(
        cls, base: float | timedelta = 1.0, maximum: float | timedelta = 20.0
    ) -> Backoff:
        """AWS full jitter: ``uniform(0, min(maximum, base * 2**(n-1)))``."""
        initial, cap = _base_and_maximum(base, maximum)
        return cls("full_jitter", initial, 2.0, cap, 1.0)

    @classmethod
    def equal_jitter(
        cls, base: float | timedelta = 1.0, maximum: float | timedelta = 20.0
    ) -> Backoff:
        """AWS equal jitter: ``t/2 + uniform(0, t/2)`` with ``t = min(maximum, base*2**(n-1))``."""
        initial, cap = _base_and_maximum(base, maximum)
        return cls("equal_jitter", initial, 2.0, cap, 0.5)

    @classmethod
    def decorrelated(
        cls, base: float | timedelta = 1.0, maximum: float | timedelta = 20.0
    ) -> Backoff:
        """AWS decorrelated jitter: ``min(maximum, uniform(base, previous * 3))``."""
        initial, cap = _base_and_maximum(base, maximum)
        return cls("decorrelated", initial, 3.0, cap, 1.0)

    def delay(self, retry: int, previous: float | None, rng: random.Random) -> float:
        """Seconds to wait before retry number ``retry`` (1 = the first retry).

        Never more than ``maximum``, nor than ``MAX_SECONDS`` without one: a sleep beyond
        that overflows the operating system's timers.
        """
        cap = MAX_SECONDS if self.maximum is None else self.maximum
        if self.kind == "decorrelated":
            upper = max(self.initial, (previous or self.initial) * self.multiplier)
            value = rng.uniform(self.initial, upper)
            return value if value < cap else cap
        if self.kind == "constant":
            base = self.initial
        else:
            try:
                base = self.initial * self.multiplier ** (retry - 1)
            except OverflowError:
                base = cap
            if base > cap:
                base = cap
        if self.kind == "full_jitter":
            return rng.uniform(0.0, base)
        if self.kind == "equal_jitter":
            return base / 2 + rng.uniform(0.0, base / 2)
        if self.jitter:
            base *= 1.0 + self.jitter * (2.0 * rng.random() - 1.0)
        return base if base < cap else cap
