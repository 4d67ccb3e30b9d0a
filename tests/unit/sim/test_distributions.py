"""Service-time distributions: their means, their draws, and refusing bad parameters."""

from __future__ import annotations

import math
import random
import statistics
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seawall._errors import ConfigError
from seawall.sim import (
    Distribution,
    bimodal,
    deterministic,
    empirical,
    exponential,
    lognormal,
    mixture,
)

DRAWS = 40_000


def draws(distribution: Distribution, seed: int = 7) -> list[float]:
    sample = distribution.sampler(random.Random(seed))
    return [sample() for _ in range(DRAWS)]


@pytest.mark.parametrize(
    "distribution",
    [
        deterministic(0.25),
        exponential(mean=0.5),
        lognormal(mean=0.2, sigma=0.8),
        mixture([(9, exponential(0.01)), (1, 1.0)]),
        bimodal(0.01, exponential(0.5), slow_fraction=0.05),
        empirical([0.1, 0.1, 0.4, 2.0]),
    ],
    ids=repr,
)
def test_the_sample_mean_matches_the_declared_mean(distribution: Distribution) -> None:
    values = draws(distribution)
    assert min(values) >= 0
    # Four standard errors: a wrong parametrisation is off by far more.
    error = 4 * statistics.pstdev(values) / math.sqrt(DRAWS)
    assert abs(statistics.fmean(values) - distribution.mean) <= max(error, 1e-12)


def test_exponential_has_unit_coefficient_of_variation() -> None:
    values = draws(exponential(mean=2.0))
    assert statistics.pstdev(values) / statistics.fmean(values) == pytest.approx(1.0, abs=0.03)


def test_lognormal_sigma_is_the_spread_of_the_logarithm() -> None:
    logs = [math.log(v) for v in draws(lognormal(mean=1.0, sigma=1.5))]
    assert statistics.pstdev(logs) == pytest.approx(1.5, rel=0.03)


def test_bimodal_draws_the_slow_mode_at_its_fraction() -> None:
    values = draws(bimodal(0.001, 1.0, slow_fraction=0.1))
    assert sum(v == 1.0 for v in values) / DRAWS == pytest.approx(0.1, abs=0.01)


def test_empirical_only_returns_observed_values() -> None:
    assert set(draws(empirical([0.5, 0.7]))) == {0.5, 0.7}


def test_a_stream_gives_the_same_draws_for_the_same_seed() -> None:
    distribution = mixture([(1, exponential(1.0)), (1, lognormal(1.0, 0.5))])
    assert draws(distribution, seed=3)[:100] == draws(distribution, seed=3)[:100]


BAD_NUMBERS = [float("nan"), float("inf"), -1.0, True, "1", None]


@pytest.mark.parametrize("value", BAD_NUMBERS)
def test_bad_parameters_are_config_errors(value: Any) -> None:
    for build in (
        lambda: deterministic(value),
        lambda: exponential(value),
        lambda: lognormal(1.0, value),
        lambda: lognormal(value, 1.0),
        lambda: mixture([(value, 1.0)]),
        lambda: bimodal(0.1, 1.0, slow_fraction=value),
        lambda: empirical([0.1, value]),
    ):
        with pytest.raises(ConfigError):
            build()


@pytest.mark.parametrize(
    "build",
    [
        lambda: exponential(0.0),
        lambda: mixture([]),
        lambda: empirical([]),
        lambda: empirical("0.1"),  # type: ignore[arg-type]
        lambda: bimodal(0.1, 1.0, slow_fraction=1.0),
    ],
)
def test_degenerate_parameters_are_config_errors(build: Any) -> None:
    with pytest.raises(ConfigError):
        build()


anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=3),
)


@given(mean=anything, sigma=anything, weight=anything, values=st.lists(anything, max_size=4))
def test_constructors_return_a_usable_distribution_or_raise_config_error(
    mean: Any, sigma: Any, weight: Any, values: Any
) -> None:
    for build in (
        lambda: exponential(mean),
        lambda: lognormal(mean, sigma),
        lambda: mixture([(weight, mean)]),
        lambda: empirical(values),
    ):
        try:
            distribution = build()
        except ConfigError:
            continue
        value = distribution.sampler(random.Random(0))()
        assert math.isfinite(value) or distribution.mean > 1e300
        assert value >= 0
        assert math.isfinite(distribution.mean)


@given(
    mean=st.floats(min_value=1e-300, max_value=1e308),
    sigma=st.floats(min_value=1e-300, max_value=1e308),
    seed=st.integers(0, 2**32),
)
def test_lognormal_never_overflows(mean: float, sigma: float, seed: int) -> None:
    try:
        distribution = lognormal(mean, sigma)
    except ConfigError:
        return
    sample = distribution.sampler(random.Random(seed))
    assert all(math.isfinite(sample()) for _ in range(50))


def test_lognormal_refuses_overflowing_parameters() -> None:
    with pytest.raises(ConfigError, match="sigma <= 10"):
        lognormal(1.0, 11.0)
    with pytest.raises(ConfigError, match="mean <= 1e9"):
        lognormal(1e10, 1.0)
