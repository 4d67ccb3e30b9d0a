"""Service and think times: how long one request occupies a server, or a client idles.

A distribution is a value (frozen, comparable, printable) that hands out a *sampler*
bound to one random stream: the hot loop then pays one call per draw, and two
components never share a stream, so adding a service does not change what another one
draws. Each knows its mean and variance, the two moments queueing formulas take
(Pollaczek-Khinchine's M/G/1 wait needs E[S^2] = variance + mean^2), and checks its
parameters however it is built: a negative or NaN duration would run and report
numbers that mean nothing.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from seawall._errors import ConfigError
from seawall.sim import _checks

__all__ = [
    "Deterministic",
    "Distribution",
    "Empirical",
    "Exponential",
    "LogNormal",
    "Mixture",
    "Uniform",
    "bimodal",
    "deterministic",
    "empirical",
    "exponential",
    "lognormal",
    "mixture",
    "uniform",
]

Sampler = Callable[[], float]


class Distribution:
    """A non-negative random duration in virtual seconds."""

    __slots__ = ()

    @property
    def mean(self) -> float:
        """The expected value, which queueing formulas take as 1/mu."""
        raise NotImplementedError

    @property
    def variance(self) -> float:
        """The variance of one draw, in seconds squared."""
        raise NotImplementedError

    def sampler(self, rng: random.Random) -> Sampler:
        """A function returning one draw per call, from ``rng``."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Deterministic(Distribution):
    """Always ``value`` seconds (the D in M/D/1)."""

    value: float

    def __post_init__(self) -> None:
        _checks.non_negative("deterministic value", self.value)

    @property
    def mean(self) -> float:
        return self.value

    @property
    def variance(self) -> float:
        return 0.0

    def sampler(self, rng: random.Random) -> Sampler:
        value = self.value
        return lambda: value


@dataclass(frozen=True, slots=True)
class Exponential(Distribution):
    """Memoryless durations with the given mean (the M in M/M/c)."""

    mean_value: float

    def __post_init__(self) -> None:
        _checks.positive("exponential mean", self.mean_value)

    @property
    def mean(self) -> float:
        return self.mean_value

    @property
    def variance(self) -> float:
        return self.mean_value * self.mean_value

    def sampler(self, rng: random.Random) -> Sampler:
        uniform = rng.random
        log = math.log
        scale = -self.mean_value
        # 1 - U lies in (0, 1], so the log is always defined.
        return lambda: scale * log(1.0 - uniform())


@dataclass(frozen=True, slots=True)
class Uniform(Distribution):
    """Durations spread evenly over ``[low, high]``: a jittered start-up or TTL."""

    low: float
    high: float

    def __post_init__(self) -> None:
        low = _checks.non_negative("uniform low", self.low)
        if _checks.non_negative("uniform high", self.high) < low:
            raise ConfigError(f"uniform needs low <= high, got low={low!r}, high={self.high!r}")

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2

    @property
    def variance(self) -> float:
        return (self.high - self.low) ** 2 / 12

    def sampler(self, rng: random.Random) -> Sampler:
        uniform = rng.random
        low, span = self.low, self.high - self.low
        return lambda: low + span * uniform()


@dataclass(frozen=True, slots=True)
class LogNormal(Distribution):
    """Right-skewed durations: most are near the median, a few are many times longer.

    Parametrised by the mean (what capacity planning divides by) and ``sigma``, the
    standard deviation of the duration's logarithm (0.5 is a moderate tail, 1.5 a heavy one).
    """

    mean_value: float
    sigma: float

    def __post_init__(self) -> None:
        mean = _checks.positive("lognormal mean", self.mean_value)
        sigma = _checks.positive("lognormal sigma", self.sigma)
        if mean > 1e9 or sigma > 10:
            raise ConfigError(
                f"lognormal needs mean <= 1e9 s and sigma <= 10, got {mean!r}, {sigma!r}"
            )

    @property
    def mean(self) -> float:
        return self.mean_value

    @property
    def variance(self) -> float:
        return math.expm1(self.sigma * self.sigma) * self.mean_value * self.mean_value

    def sampler(self, rng: random.Random) -> Sampler:
        mu = math.log(self.mean_value) - self.sigma * self.sigma / 2.0
        sigma = self.sigma
        draw = rng.lognormvariate
        return lambda: draw(mu, sigma)


@dataclass(frozen=True, slots=True)
class Mixture(Distribution):
    """With probability ``weights[i]``, a draw from ``parts[i]`` (weights sum to 1)."""

    weights: tuple[float, ...]
    parts: tuple[Distribution, ...]

    def __post_init__(self) -> None:
        if not self.parts or len(self.weights) != len(self.parts):
            raise ConfigError(
                f"a mixture needs one weight per part and at least one part, got "
                f"{len(self.weights)} weights for {len(self.parts)} parts"
            )
        for part in self.parts:
            if not isinstance(part, Distribution):
                raise ConfigError(f"a mixture part must be a distribution, got {part!r}")
        total = math.fsum(_checks.non_negative("mixture weight", w) for w in self.weights)
        if abs(total - 1.0) > 1e-9:
            raise ConfigError(f"mixture weights must sum to 1, got {total!r}")

    @property
    def mean(self) -> float:
        return math.fsum(w * p.mean for w, p in zip(self.weights, self.parts, strict=True))

    @property
    def variance(self) -> float:
        # The law of total variance: the parts' own spread plus the spread of their means.
        mean = self.mean
        pairs = zip(self.weights, self.parts, strict=True)
        second = math.fsum(w * (p.variance + p.mean * p.mean) for w, p in pairs)
        return max(0.0, second - mean * mean)

    def sampler(self, rng: random.Random) -> Sampler:
        cumulative = list(itertools.accumulate(self.weights))
        cumulative[-1] = 1.0
        samplers = [part.sampler(rng) for part in self.parts]
        uniform = rng.random
        pick = bisect.bisect_right
        return lambda: samplers[pick(cumulative, uniform())]()


@dataclass(frozen=True, slots=True)
class Empirical(Distribution):
    """Durations resampled uniformly from observed ones (a measured latency log)."""

    values: tuple[float, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.values, tuple) or not self.values:
            raise ConfigError("empirical needs a non-empty tuple of observed values")
        for value in self.values:
            _checks.non_negative("empirical value", value)

    @property
    def mean(self) -> float:
        return math.fsum(self.values) / len(self.values)

    @property
    def variance(self) -> float:
        # Resampling draws each observed value with equal chance: the population variance.
        return statistics.pvariance(self.values)

    def sampler(self, rng: random.Random) -> Sampler:
        values = self.values
        size = len(values)
        uniform = rng.random
        return lambda: values[int(uniform() * size)]


def deterministic(value: float) -> Deterministic:
    """Every draw is ``value`` seconds."""
    return Deterministic(_checks.non_negative("deterministic value", value))


def exponential(mean: float) -> Exponential:
    """Exponential durations with the given mean (rate 1/mean)."""
    return Exponential(_checks.positive("exponential mean", mean))


def uniform(low: float, high: float) -> Uniform:
    """Durations spread evenly between ``low`` and ``high`` seconds."""
    low = _checks.non_negative("uniform low", low)
    high = _checks.non_negative("uniform high", high)
    if high < low:
        raise ConfigError(f"uniform needs low <= high, got low={low!r}, high={high!r}")
    return Uniform(low, high)


def lognormal(mean: float, sigma: float) -> LogNormal:
    """Lognormal durations with the given mean and log-space standard deviation.

    ``sigma`` is at most 10 and ``mean`` at most 1e9 s: beyond that a draw can overflow a
    float, and no service time is that skewed or that long.
    """
    checked_mean = _checks.positive("lognormal mean", mean)
    checked_sigma = _checks.positive("lognormal sigma", sigma)
    if checked_mean > 1e9 or checked_sigma > 10:
        raise ConfigError(f"lognormal needs mean <= 1e9 s and sigma <= 10, got {mean!r}, {sigma!r}")
    return LogNormal(checked_mean, checked_sigma)


def mixture(parts: Iterable[tuple[float, Distribution | float]]) -> Mixture:
    """A weighted mix, e.g. ``mixture([(0.9, exponential(0.01)), (0.1, exponential(1.0))])``.

    Weights are relative (they are normalised); a bare number is a fixed duration.
    """
    try:
        pairs = [(weight, part) for weight, part in parts]
    except (TypeError, ValueError):
        raise ConfigError(
            f"a mixture takes (weight, distribution or seconds) pairs, got {parts!r}"
        ) from None
    if not pairs:
        raise ConfigError("a mixture needs at least one (weight, distribution) part")
    weights = [_checks.positive("mixture weight", weight) for weight, _ in pairs]
    largest = max(weights)
    # Relative weights: scaled by the largest first, so huge ones cannot overflow the sum.
    weights = [weight / largest for weight in weights]
    total = math.fsum(weights)
    return Mixture(
        tuple(weight / total for weight in weights),
        tuple(_as_distribution("mixture part", part) for _, part in pairs),
    )


def bimodal(
    fast: Distribution | float, slow: Distribution | float, slow_fraction: float
) -> Mixture:
    """Mostly ``fast``, a ``slow_fraction`` of the time ``slow`` (cache hit or miss, GC pause)."""
    fraction = _checks.positive("slow_fraction", slow_fraction)
    if fraction >= 1:
        raise ConfigError(f"slow_fraction must be < 1, got {slow_fraction!r}")
    return mixture([(1.0 - fraction, fast), (fraction, slow)])


def empirical(values: Sequence[float]) -> Empirical:
    """Resample uniformly from ``values`` (seconds; at least one, all finite and >= 0)."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise ConfigError(
            f"empirical values must be a sequence of numbers of seconds, got {values!r}"
        )
    checked = tuple(_checks.non_negative("empirical value", value) for value in values)
    if not checked:
        raise ConfigError("empirical needs at least one observed value")
    return Empirical(checked)


def _as_distribution(name: str, value: Distribution | float) -> Distribution:
    if isinstance(value, Distribution):
        return value
    return deterministic(_checks.non_negative(name, value))
