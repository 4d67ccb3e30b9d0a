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
    """A 100 % failure storm: 1000 requests/s for 10 s, each wanting 2 retries.

    The ratio and floor alone (``max_tokens=None``): the failure reserve would stop them all.
    """
    clock = FakeClock()
    budget = seawall.RetryBudget(
        ratio=0.1, min_per_second=10, window=10.0, clock=clock, max_tokens=None
    )
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


def _storm(budget: seawall.RetryBudget, clock: FakeClock, requests: int, gap: float) -> int:
    """Retries made by ``requests`` calls ``gap`` apart to a dependency that always fails."""
    retry = seawall.Retry(
        attempts=3, budget=budget, backoff=seawall.Backoff.constant(0.0), clock=clock
    )
    attempts = 0

    def down() -> None:
        nonlocal attempts
        attempts += 1
        raise ConnectionError

    for _ in range(requests):
        with pytest.raises(ConnectionError):
            retry.call(down)
        clock.advance(gap)
    return attempts - requests


def test_a_dead_dependency_gets_one_retried_call_per_caller_from_the_default_budget() -> None:
    """A caller at 0.1 requests/s: its floor of 10 retries/s never binds; the reserve does.

    The first failed call starts retrying out of a full reserve and keeps both of its
    retries; no call after it retries, however slowly or quickly the calls come.
    """
    for requests, gap in ((6, 10.0), (10_000, 0.001)):
        clock = FakeClock()
        assert _storm(seawall.RetryBudget(clock=clock), clock, requests, gap) == 2


def test_a_bigger_reserve_lets_more_failed_calls_retry_each_with_every_attempt() -> None:
    clock = FakeClock()
    budget = seawall.RetryBudget(clock=clock, max_tokens=4.0)
    assert _storm(budget, clock, requests=6, gap=10.0) == 2 * 2  # 4 -> 3 -> 2: two calls


def test_a_flaky_dependency_keeps_the_reserve_full() -> None:
    """One request in five fails once: every one of them is retried (and succeeds)."""
    clock = FakeClock()
    budget = seawall.RetryBudget(clock=clock, max_tokens=4.0)
    retry = seawall.Retry(
        attempts=3, budget=budget, backoff=seawall.Backoff.constant(0.0), clock=clock
    )
    calls = 0

    def flaky() -> None:
        nonlocal calls
        calls += 1
        if calls % 6 == 1:  # the first attempt of every fifth request
            raise ConnectionError

    for _ in range(1_000):
        retry.call(flaky)
        clock.advance(0.1)
    assert retry.calls_success_after_retry == 200
    assert retry.calls_budget_refused == 0


def test_the_reserve_refills_with_calls_that_did_not_fail_and_can_be_turned_off() -> None:
    clock = FakeClock()
    budget = seawall.RetryBudget(clock=clock, max_tokens=4.0, token_ratio=0.5)

    def failing_call() -> bool:
        budget.deposit()  # every call is counted when it starts
        return budget.failed()

    assert [failing_call() for _ in range(5)] == [True, True, False, False, False]  # 4 3 2 1 0
    for _ in range(5):  # five calls that did not fail: 2.5 tokens, above half of 4
        budget.deposit()
    assert failing_call()
    assert not failing_call()  # 1.5
    off = seawall.RetryBudget(clock=clock, max_tokens=None)
    assert all(off.failed() for _ in range(100))
    assert off.try_withdraw()


def test_a_call_still_in_flight_refills_the_reserve_only_once() -> None:
    clock = FakeClock()
    budget = seawall.RetryBudget(clock=clock)  # 2 tokens, 0.5 per call that did not fail
    budget.deposit()
    assert budget.failed()  # 2 -> 1
    for _ in range(3):
        budget.deposit()  # three calls in flight, counted as good until they fail
    assert budget.failed()  # one fails: the other two refill 1 -> 2, then it takes one

    assert not budget.failed()  # and another: 1 is not above half
    assert not budget.failed()


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
    for bad in ({"max_tokens": 0.5}, {"max_tokens": float("nan")}, {"token_ratio": -1.0}):
        with pytest.raises(seawall.ConfigError):
            seawall.RetryBudget(**bad)  # type: ignore[arg-type]


def test_the_reserve_is_on_by_default_and_off_for_a_budget_that_allows_every_retry() -> None:
    assert seawall.RetryBudget().max_tokens == 2.0
    assert seawall.RetryBudget(ratio=0.5).max_tokens == 2.0
    assert seawall.RetryBudget(ratio=10.0).max_tokens is None  # retry every failure
    assert seawall.RetryBudget(ratio=10.0, max_tokens=4).max_tokens == 4.0
    for bad in ("on", 0.5, float("nan")):
        with pytest.raises(seawall.ConfigError):
            seawall.RetryBudget(max_tokens=bad)  # type: ignore[arg-type]
