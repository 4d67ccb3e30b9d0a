"""Each distribution draws what it declares: its mean and its variance, within 99 % intervals.

The queueing checks take ``mean`` and ``variance`` from the distribution itself (the
Pollaczek-Khinchine wait needs E[S^2]); this pins both against the draws, in 40 batches
of draws from one fixed-seed stream each.
"""

from __future__ import annotations

import math
import random
import statistics

import pytest

from seawall import ConfigError, sim
from tests.unit.sim.queueing import BATCHES, assert_matches

DRAWS = 10_000  # per batch

CASES = {
    "exponential": sim.exponential(2.0),
    "lognormal": sim.lognormal(1.0, 0.75),
    "mixture": sim.mixture([(0.7, sim.exponential(0.5)), (0.3, sim.deterministic(3.0))]),
    "bimodal": sim.bimodal(0.5, 2.5, slow_fraction=0.25),
    "empirical": sim.empirical([0.1, 0.2, 0.2, 0.5, 1.0, 4.0]),
    "uniform": sim.uniform(1.0, 3.0),
}


@pytest.mark.parametrize("name", CASES)
def test_draws_have_the_declared_mean_and_variance(name: str) -> None:
    distribution = CASES[name]
    draw = distribution.sampler(random.Random(f"moments/{name}"))
    means, variances = [], []
    for _ in range(BATCHES):
        sample = [draw() for _ in range(DRAWS)]
        means.append(statistics.fmean(sample))
        variances.append(statistics.variance(sample))
    assert_matches("mean", means, distribution.mean)
    assert_matches("variance", variances, distribution.variance, within=0.03)


def test_the_declared_moments_are_the_closed_forms() -> None:
    assert sim.deterministic(2.0).variance == 0.0
    assert sim.exponential(2.0).variance == pytest.approx(4.0)
    assert sim.uniform(1.0, 3.0).variance == pytest.approx(4 / 12)
    # Lognormal: (e^(sigma^2) - 1) mean^2.
    assert sim.lognormal(2.0, 0.5).variance == pytest.approx((math.exp(0.25) - 1) * 4.0)
    # A two-point mixture: p (1 - p) (a - b)^2.
    assert sim.bimodal(0.5, 2.5, slow_fraction=0.25).variance == pytest.approx(0.75)
    assert sim.empirical([1.0, 3.0]).variance == pytest.approx(1.0)
    # The law of total variance over exponential parts.
    mixed = sim.mixture([(0.5, sim.exponential(1.0)), (0.5, sim.exponential(3.0))])
    assert mixed.mean == pytest.approx(2.0)
    assert mixed.variance == pytest.approx(0.5 * 2 + 0.5 * 18 - 4.0)


@pytest.mark.parametrize(
    "build",
    [
        lambda: sim.Exponential(-1.0),
        lambda: sim.Deterministic(float("nan")),
        lambda: sim.LogNormal(1.0, float("inf")),
        lambda: sim.LogNormal(1e12, 1.0),
        lambda: sim.Uniform(3.0, 1.0),
        lambda: sim.Mixture((0.5,), (sim.exponential(1.0), sim.exponential(2.0))),
        lambda: sim.Mixture((0.5, 0.2), (sim.exponential(1.0), sim.exponential(2.0))),
        lambda: sim.Mixture((1.0,), ("fast",)),  # type: ignore[arg-type]
        lambda: sim.Empirical(()),
        lambda: sim.Empirical((1.0, -1.0)),
        lambda: sim.empirical(5),  # type: ignore[arg-type]
        lambda: sim.empirical(None),  # type: ignore[arg-type]
        lambda: sim.mixture(5),  # type: ignore[arg-type]
        lambda: sim.mixture([1.0, 2.0]),  # type: ignore[list-item]
    ],
)
def test_a_distribution_built_directly_is_checked_too(build: object) -> None:
    # The classes are public: built without the lower-case helpers they would otherwise
    # hand the engine negative or NaN durations, and time would run backwards.
    with pytest.raises(ConfigError):
        build()  # type: ignore[operator]


def test_huge_relative_weights_are_normalised_without_overflow() -> None:
    mixed = sim.mixture([(1e308, 1.0), (1e308, 3.0)])
    assert mixed.weights == (0.5, 0.5)
    assert mixed.mean == pytest.approx(2.0)
