"""Hedge on a FakeClock: when a hedge starts, who wins, what is cancelled, what is refused."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import seawall
from seawall.policies._hedge import parse_delay
from seawall.policies._latency import LatencyRing
from seawall.testing import FakeClock


class Busy(ConnectionError):
    """A transient failure: not an answer, so the hedge goes at once."""


def test_async_hedge_starts_after_the_delay_and_wins_with_one_key() -> None:
    clock = FakeClock()
    hedge = seawall.Hedge(0.05, clock=clock, budget=False)
    seen: list[tuple[int, str, float]] = []
    cancelled: list[int] = []

    async def call() -> str:
        attempt = seawall.current_attempt()
        seen.append((attempt, seawall.idempotency_key(), clock.now()))
        if attempt == 1:
            try:
                await asyncio.get_running_loop().create_future()  # never answers
            except asyncio.CancelledError:
                cancelled.append(attempt)
                raise
        return f"answer {attempt}"

    async def main() -> str:
        result = await hedge.acall(call)
        await asyncio.sleep(0)  # let the loser's cancellation run
        return result

    assert asyncio.run(main()) == "answer 2"
    assert [(a, t) for a, _, t in seen] == [(1, 0.0), (2, 0.05)]
    assert seen[0][1] == seen[1][1]  # one idempotency key for the operation
    assert cancelled == [1]
    assert (hedge.calls, hedge.attempts_original, hedge.attempts_hedge) == (1, 1, 1)
    assert (hedge.hedges_won, hedge.losers_cancelled) == (1, 1)


def test_async_fast_answer_sends_no_hedge() -> None:
    clock = FakeClock()
    hedge = seawall.Hedge(0.05, clock=clock, budget=False)

    async def call() -> int:
        return seawall.current_attempt()

    assert asyncio.run(hedge.acall(call)) == 1
    assert (hedge.attempts_hedge, hedge.hedges_won, hedge.losers_cancelled) == (0, 0, 0)


def test_a_transient_failure_hedges_at_once_and_a_fatal_one_ends_the_call() -> None:
    clock = FakeClock()
    hedge = seawall.Hedge(10.0, clock=clock, budget=False)

    async def flaky() -> int:
        if seawall.current_attempt() == 1:
            raise Busy("refused")
        return 2

    assert asyncio.run(hedge.acall(flaky)) == 2
    assert clock.now() == 0.0  # no 10 s wait: the failure was not an answer

    async def fatal() -> int:
        raise KeyError("bad request")

    with pytest.raises(KeyError):
        asyncio.run(hedge.acall(fatal))
    assert hedge.attempts_hedge == 1


def test_every_attempt_failing_raises_the_last_error() -> None:
    hedge = seawall.Hedge(0.01, max_hedges=2, clock=FakeClock(), budget=False)
    calls: list[int] = []

    async def down() -> None:
        calls.append(seawall.current_attempt())
        raise Busy(f"attempt {seawall.current_attempt()}")

    with pytest.raises(Busy, match="attempt 3"):
        asyncio.run(hedge.acall(down))
    assert calls == [1, 2, 3]


def test_no_hedge_once_the_deadline_has_passed() -> None:
    clock = FakeClock()
    hedge = seawall.Hedge(0.05, clock=clock, budget=False)
    attempts: list[int] = []

    async def slow() -> str:
        attempts.append(seawall.current_attempt())
        await clock.asleep(0.2)
        return "late"

    async def main() -> str:
        with seawall.deadline(0.01, clock=clock):
            return await hedge.acall(slow)

    asyncio.run(main())
    assert attempts == [1]
    assert hedge.hedges_deadline_refused == 1
    assert hedge.attempts_hedge == 0


def test_the_budget_refuses_hedges_when_spent() -> None:
    clock = FakeClock()
    budget = seawall.RetryBudget(ratio=0.0, min_per_second=0.1, window=10.0, clock=clock)
    hedge = seawall.Hedge(0.01, clock=clock, budget=budget)

    async def call() -> int:
        if seawall.current_attempt() == 1:
            await clock.asleep(1.0)
        return seawall.current_attempt()

    async def main() -> list[int]:
        return [await hedge.acall(call) for _ in range(3)]

    asyncio.run(main())
    # A floor of one hedge per 10 s window: the first call hedges, the others may not.
    assert (hedge.attempts_hedge, hedge.hedges_budget_refused) == (1, 2)


def test_sync_hedge_on_a_bounded_pool_abandons_the_loser() -> None:
    clock = FakeClock()
    hedge = seawall.Hedge(0.05, clock=clock, budget=False, max_workers=2)
    release = threading.Event()
    keys: list[str] = []

    def call() -> int:
        keys.append(seawall.idempotency_key())
        if seawall.current_attempt() == 1:
            release.wait(5.0)  # a stuck original: it can only be abandoned
        return seawall.current_attempt()

    try:
        assert hedge.call(call) == 2
        assert clock.now() == pytest.approx(0.05)
        assert len(set(keys)) == 1
        assert (hedge.hedges_won, hedge.losers_cancelled) == (1, 1)
        # Both workers busy (the stuck loser and nothing else free for a hedge): the next
        # call runs unhedged in the caller's thread rather than queue.
        hedge._pool_free.acquire()
        assert hedge.call(seawall.current_attempt) == 1
        assert hedge.hedges_pool_refused == 1
        hedge._pool_free.release()
    finally:
        release.set()
        hedge.close()


def test_percentile_delay_uses_the_initial_delay_until_enough_samples() -> None:
    clock = FakeClock()
    hedge = seawall.Hedge("p90", initial_delay=0.5, min_samples=10, clock=clock)
    assert hedge.current_delay() == 0.5
    for i in range(10):
        hedge.latencies.record((i + 1) / 100)
    assert hedge.current_delay() == pytest.approx(0.09)


def test_composes_in_a_pipeline_each_attempt_under_its_own_timeout() -> None:
    clock = FakeClock()
    hedge = seawall.Hedge(0.05, clock=clock, budget=False)
    pipeline = seawall.Pipeline(hedge, seawall.Timeout(1.0, clock=clock))

    async def call() -> int:
        if seawall.current_attempt() == 1:
            await asyncio.get_running_loop().create_future()
        return seawall.current_attempt()

    assert asyncio.run(pipeline.acall(call)) == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"delay": "p100"}, "percentile"),
        ({"delay": "95%"}, "percentile"),
        ({"delay": -1.0}, "hedge delay"),
        ({"delay": True}, "hedge delay"),
        ({"max_hedges": 6}, "max_hedges"),
        ({"max_hedges": -1}, "max_hedges"),
        ({"budget": 0.1}, "budget"),
        ({"jitter": 1.5}, "jitter"),
        ({"max_workers": 0}, "max_workers"),
        ({"min_samples": 5000}, "min_samples"),
        ({"rng": 3}, "rng"),
    ],
)
def test_bad_arguments_raise_config_error_at_construction(
    kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(seawall.ConfigError, match=message):
        seawall.Hedge(**kwargs)


def test_delay_forms() -> None:
    assert parse_delay(0.02) == 0.02
    assert parse_delay(timedelta(milliseconds=20)) == 0.02
    assert parse_delay("p99.9") == "p99.9"


@given(st.text(max_size=8))
def test_any_delay_text_parses_or_raises_config_error(text: str) -> None:
    try:
        value = parse_delay(text)
    except seawall.ConfigError:
        return
    assert isinstance(value, str)
    assert 0 < float(value[1:]) < 100


@given(
    st.lists(st.floats(0.0, 100.0), min_size=1, max_size=300),
    st.floats(0.1, 99.9),
)
def test_ring_percentile_is_a_nearest_rank_of_the_last_samples(
    samples: list[float], q: float
) -> None:
    ring = LatencyRing(capacity=64)
    for value in samples:
        ring.record(value)
    kept = samples[-64:]
    value = ring.percentile(q)
    assert value in kept
    assert sum(v <= value for v in kept) >= q / 100 * len(kept)
    assert len(ring._samples) <= 64


def test_standard_puts_the_hedge_in_the_retry_place() -> None:
    clock = FakeClock()
    hedge = seawall.Hedge(0.05, clock=clock, budget=False)
    pipeline = seawall.standard("db", "rpc", hedge=hedge, clock=clock)
    assert pipeline.hedge is hedge
    assert pipeline.retry.attempts == 1
    assert pipeline.retry.budget is None
    assert list(pipeline)[:2] == [pipeline.retry, hedge]
    keys: list[str] = []

    async def call() -> int:
        keys.append(seawall.idempotency_key())
        if seawall.current_attempt() == 1:
            await asyncio.get_running_loop().create_future()
        return seawall.current_attempt()

    assert asyncio.run(pipeline.acall(call)) == 2
    assert len(set(keys)) == 1
    assert pipeline.breaker.calls_success == 1  # the winner went through the breaker


@pytest.mark.parametrize(
    "retry_option",
    [
        {"attempts": 3},
        {"backoff": seawall.Backoff.exponential()},
        {"retry_budget": False},
        {"retry_on": KeyError},
    ],
)
def test_standard_hedges_or_retries_not_both(retry_option: dict[str, Any]) -> None:
    with pytest.raises(seawall.ConfigError, match="hedges or retries"):
        seawall.standard("db", hedge=seawall.Hedge(0.05), **retry_option)
    with pytest.raises(seawall.ConfigError, match="hedge must be a seawall Hedge"):
        seawall.standard("db", hedge=0.05)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "option",
    [
        {"hedge": {"api": {"delay": "p101"}}},
        {"hedge": {"api": {"bogus": 1}}},
        {"hedge": {"api": {"clock": None}}},
        {"hedge": ["api"]},
    ],
)
def test_client_hedge_option_is_checked_when_the_client_is_made(option: dict[str, Any]) -> None:
    from seawall.http import Client

    with pytest.raises(seawall.ConfigError, match="hedge"):
        Client(**option)


def test_token_throttle_follows_grfc_a6() -> None:
    throttle = seawall.TokenThrottle(max_tokens=4, token_ratio=0.5)
    assert throttle.try_withdraw()
    throttle.record(False)
    assert throttle.try_withdraw()  # 3 > 2
    throttle.record(False)
    assert not throttle.try_withdraw()  # 2 is not above half
    throttle.record(True)
    assert throttle.try_withdraw()  # 2.5
    for _ in range(20):
        throttle.record(True)
    assert throttle.tokens == 4


@given(st.lists(st.booleans(), max_size=200))
def test_token_count_stays_within_zero_and_max(outcomes: list[bool]) -> None:
    throttle = seawall.TokenThrottle(max_tokens=3, token_ratio=0.3)
    for success in outcomes:
        throttle.record(success)
        assert 0.0 <= throttle.tokens <= 3.0
        assert throttle.try_withdraw() == (throttle.tokens > 1.5)


def test_hedges_stop_while_transient_failures_drain_the_tokens() -> None:
    clock = FakeClock()
    throttle = seawall.TokenThrottle(max_tokens=4, token_ratio=0.1)
    hedge = seawall.Hedge(0.05, clock=clock, budget=throttle)

    async def down() -> None:
        raise Busy("unavailable")

    async def main() -> None:
        for _ in range(3):
            with pytest.raises(Busy):
                await hedge.acall(down)

    asyncio.run(main())
    # Call 1: original and hedge fail (4 -> 2); from then on no hedge is sent.
    assert (hedge.attempts_hedge, hedge.hedges_budget_refused) == (1, 2)
    assert throttle.tokens == 0.0


@pytest.mark.parametrize(
    "kwargs", [{"max_tokens": 0}, {"max_tokens": 1001}, {"token_ratio": 0}, {"token_ratio": "1"}]
)
def test_token_throttle_bad_arguments(kwargs: dict[str, Any]) -> None:
    with pytest.raises(seawall.ConfigError):
        seawall.TokenThrottle(**kwargs)
