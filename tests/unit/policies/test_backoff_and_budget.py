"""Backoff formulas and the retry budget under a failure storm."""

from __future__ import annotations

import random

import pytest

import seawall
from seawall.testing import FakeClock


def test_exponential_without_jitter_is_exact() -> None:
    backoff = seawall.Backoff.exponential(initial=1.0, multiplier=2.0, maximum=5.0, jitter=0.0)
    rng = random.Random(0)
    assert [backoff.delay(n, None, rng) for n in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]


@pytest.mark.parametrize("seed", range(20))
def test_aws_jitter_formulas_stay_in_their_ranges(seed: int) -> None:
    rng = random.Random(seed)
    full = seawall.Backoff.full_jitter(base=1.0, maximum=10.0)
    equal = seawall.Backoff.equal_jitter(base=1.0, maximum=10.0)
    decorrelated = seawall.Backoff.decorrelated(base=0.5, maximum=10.0)
    previous = None
    for n in range(1, 8):
        cap = min(10.0, 2.0 ** (n - 1))
        assert 0.0 <= full.delay(n, None, rng) <= cap
        assert cap / 2 <= equal.delay(n, None, rng) <= cap
        d = decorrelated.delay(n, previous, rng)
        assert 0.5 <= d <= min(10.0, max(0.5, (previous or 0.5) * 3))
        previous = d


def test_constant_backoff() -> None:
    backoff = seawall.Backoff.constant(0.5)
    assert backoff.delay(4, None, random.Random()) == 0.5


def test_backoff_validation() -> None:
    with pytest.raises(seawall.ConfigError):
        seawall.Backoff.exponential(jitter=1.5)
    with pytest.raises(seawall.ConfigError):
        seawall.Backoff.exponential(initial=2.0, maximum=1.0)
    with pytest.raises(seawall.ConfigError):
        seawall.Backoff.exponential(initial=-1.0)


def test_budget_holds_retries_to_ratio_times_requests_plus_floor_in_a_storm() -> None:
    """A 100 % failure storm: 1000 requests/s for 10 s, each wanting 2 retries."""
    clock = FakeClock()
    budget = seawall.RetryBudget(ratio=0.1, min_per_second=10, window=10.0, clock=clock)
    retry = seawall.Retry(
        attempts=3, budget=budget, backoff=seawall.Backoff.constant(0.0), clock=clock
    )
    attempts = 0

    def down() -> None:
        nonlocal attempts
        attempts += 1
        raise ConnectionError

    requests = 0
    for _ in range(10_000):
        requests += 1
        with pytest.raises(ConnectionError):
            retry.call(down)
        clock.advance(0.001)
    retries = attempts - requests
    assert retries <= 0.1 * requests + 10 * 10.0
    assert retries >= 0.1 * requests  # the budget is used, not just refused
    assert budget.statistics().available < 1.0


def test_budget_refills_as_the_window_slides() -> None:
    clock = FakeClock()
    budget = seawall.RetryBudget(ratio=0.0, min_per_second=1, window=10.0, clock=clock)
    assert sum(budget.try_withdraw() for _ in range(20)) == 10
    clock.advance(5.0)
    assert not budget.try_withdraw()
    clock.advance(5.5)
    assert sum(budget.try_withdraw() for _ in range(20)) == 10


def test_budget_refusal_is_reported_on_the_error() -> None:
    clock = FakeClock()
    budget = seawall.RetryBudget(ratio=0.0, min_per_second=0.0, window=1.0, clock=clock)
    with pytest.raises(ConnectionError) as info:
        seawall.Retry(budget=budget, clock=clock).call(_always_down)
    assert "retry budget is spent" in info.value.__notes__[0]


def _always_down() -> None:
    raise ConnectionError


def test_budget_validation() -> None:
    with pytest.raises(seawall.ConfigError):
        seawall.RetryBudget(ratio=-0.1)
    with pytest.raises(seawall.ConfigError):
        seawall.RetryBudget(window=0)
