"""RateLimiter on a FakeClock: exact GCRA arithmetic, burst, retry_after, keys, store errors."""

from __future__ import annotations

import asyncio
import logging
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import seawall
from seawall import ConfigError, Pipeline, RateLimited, RateLimiter, Rejected, Retry
from seawall.policies._gcra import Quota, step
from seawall.stores import MemoryRateLimitStore
from seawall.testing import FakeClock


def test_an_idle_key_admits_its_burst_at_once_then_one_per_interval() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=10.0, burst=5, clock=clock)
    remaining = [limiter.acquire("t").remaining for _ in range(5)]
    assert remaining == [4, 3, 2, 1, 0]
    with pytest.raises(RateLimited) as refused:
        limiter.acquire("t")
    assert refused.value.retry_after == pytest.approx(0.1)
    assert refused.value.key == "t"
    assert refused.value.remaining == 0
    assert refused.value.reset == pytest.approx(0.5)
    clock.advance(0.1)
    assert limiter.acquire("t").remaining == 0  # one unit came back after one interval
    with pytest.raises(RateLimited):
        limiter.acquire("t")
    assert (limiter.admitted, limiter.limited) == (6, 2)


def test_retry_after_is_exact_for_a_partly_refilled_bucket() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=4.0, burst=2, clock=clock)
    limiter.acquire()
    limiter.acquire()
    clock.advance(0.1)  # 0.15 s short of the next unit (interval 0.25 s)
    with pytest.raises(RateLimited) as refused:
        limiter.acquire()
    assert refused.value.retry_after == pytest.approx(0.15)
    clock.advance(0.15)
    verdict = limiter.acquire()
    assert verdict.allowed
    assert verdict.remaining == 0
    assert verdict.reset == pytest.approx(0.5)


def test_the_burst_returns_after_burst_over_rate_seconds() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=2.0, burst=4, clock=clock)
    for _ in range(4):
        limiter.acquire()
    clock.advance(2.0)
    assert [limiter.acquire().remaining for _ in range(4)] == [3, 2, 1, 0]


def test_keys_have_separate_quotas() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=1.0, burst=1, clock=clock)
    limiter.acquire("a")
    with pytest.raises(RateLimited):
        limiter.acquire("a")
    assert limiter.acquire("b").allowed


def test_a_cost_uses_several_units() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=10.0, burst=10, clock=clock)
    assert limiter.acquire(cost=7).remaining == 3
    with pytest.raises(RateLimited) as refused:
        limiter.acquire(cost=4)
    assert refused.value.retry_after == pytest.approx(0.1)
    assert refused.value.remaining == 3


def test_default_burst_is_one_second_of_rate_and_at_least_one() -> None:
    assert RateLimiter(rate=200.0).burst == 200
    assert RateLimiter(rate=0.5).burst == 1


def test_rate_limited_is_a_rejection_that_retry_never_retries() -> None:
    clock = FakeClock()
    calls = []
    limiter = RateLimiter(rate=1.0, burst=1, clock=clock)
    pipeline = Pipeline(Retry(attempts=3, clock=clock), limiter)
    pipeline.call(calls.append, 1)
    with pytest.raises(RateLimited) as refused:
        pipeline.call(calls.append, 2)
    assert isinstance(refused.value, Rejected)
    assert calls == [1]
    assert clock.sleeps == []


def test_the_decorator_and_call_forms_use_the_key_function() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=1.0, burst=1, key=lambda tenant, _n: tenant, clock=clock)

    @limiter
    def work(tenant: str, n: int) -> int:
        return n

    assert work("a", 1) == 1
    assert limiter.call(work.__wrapped__, "b", 2) == 2  # type: ignore[attr-defined]
    with pytest.raises(RateLimited) as refused:
        work("a", 3)
    assert refused.value.key == "a"


def test_the_async_forms_share_the_quota() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=1.0, burst=2, key=lambda tenant: tenant, clock=clock)

    async def work(tenant: str) -> str:
        return tenant

    async def main() -> None:
        assert await limiter.acall(work, "a") == "a"
        assert (await limiter.aacquire("a")).remaining == 0
        with pytest.raises(RateLimited):
            await limiter.acall(work, "a")

    asyncio.run(main())


def test_a_key_function_returning_a_non_string_is_a_clear_error() -> None:
    limiter = RateLimiter(rate=1.0, key=lambda n: n, clock=FakeClock())
    with pytest.raises(ConfigError, match="key function returned 3"):
        limiter.call(lambda n: n, 3)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"rate": 0}, "rate"),
        ({"rate": -1.0}, "rate"),
        ({"rate": math.nan}, "rate"),
        ({"rate": math.inf}, "rate"),
        ({"rate": "5"}, "rate"),
        ({"rate": True}, "rate"),
        ({"rate": 1.0, "burst": 0}, "burst"),
        ({"rate": 1.0, "burst": 2.5}, "burst"),
        ({"rate": 1.0, "key": 3}, "key"),
        ({"rate": 1.0, "on_store_error": "ignore"}, "on_store_error"),
        ({"rate": 1.0, "store": object()}, "store"),
        ({"rate": 1.0, "clock": 5}, "clock"),
        ({"rate": 1.0, "max_keys": 0}, "max_keys"),
        ({"rate": 1.0, "name": 3}, "name"),
    ],
)
def test_bad_arguments_fail_at_construction(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        RateLimiter(**kwargs)  # type: ignore[arg-type]


class _BrokenStore:
    def __init__(self) -> None:
        self.down = True
        self.inner = MemoryRateLimitStore()

    def take(self, key, quota, cost, now):  # type: ignore[no-untyped-def]
        if self.down:
            raise ConnectionError("connection refused")
        return self.inner.take(key, quota, cost, now)

    async def atake(self, key, quota, cost, now):  # type: ignore[no-untyped-def]
        return self.take(key, quota, cost, now)


def test_a_failing_store_fails_open_with_one_log_line_per_outage(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = _BrokenStore()
    limiter = RateLimiter(rate=1.0, burst=1, store=store, clock=FakeClock())
    with caplog.at_level(logging.INFO, logger="seawall.ratelimit"):
        for _ in range(50):
            assert limiter.acquire("a").allowed
        store.down = False
        limiter.acquire("a")
        with pytest.raises(RateLimited):
            limiter.acquire("a")
    lines = [r.getMessage() for r in caplog.records if r.name == "seawall.ratelimit"]
    assert len(lines) == 2, lines
    assert "failing open" in lines[0]
    assert "ConnectionError" in lines[0]
    assert "answers again; 50 requests" in lines[1]
    assert limiter.statistics() == seawall.RateLimiterStats(admitted=51, limited=1, store_errors=50)


def test_a_failing_store_fails_closed_when_configured(caplog: pytest.LogCaptureFixture) -> None:
    limiter = RateLimiter(
        rate=1.0, store=_BrokenStore(), on_store_error="closed", clock=FakeClock()
    )
    with caplog.at_level(logging.INFO, logger="seawall.ratelimit"):
        for _ in range(3):
            with pytest.raises(RateLimited, match="failing closed") as refused:
                limiter.acquire("a")
    assert refused.value.retry_after == 1.0
    assert isinstance(refused.value.__cause__, ConnectionError)
    assert len([r for r in caplog.records if r.name == "seawall.ratelimit"]) == 1


def test_the_memory_store_is_bounded() -> None:
    clock = FakeClock()
    store = MemoryRateLimitStore(max_keys=3, clock=clock)
    limiter = RateLimiter(rate=1.0, store=store, clock=clock)
    for n in range(10):
        limiter.acquire(f"k{n}")
    assert len(store) == 3


def test_a_key_is_not_forgotten_while_its_bucket_is_refilling() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=0.01, burst=1, idle_timeout=1.0, clock=clock)  # 100 s per unit
    limiter.acquire("a")
    clock.advance(50.0)
    limiter.acquire("b")  # an insertion: idle keys are evicted now
    with pytest.raises(RateLimited) as refused:
        limiter.acquire("a")
    assert refused.value.retry_after == pytest.approx(50.0)


# The window property: in any interval of length t, GCRA admits at most rate * t + burst.
@settings(max_examples=200, deadline=None)
@given(
    rate=st.floats(min_value=0.5, max_value=1000.0),
    burst=st.integers(min_value=1, max_value=50),
    gaps=st.lists(st.floats(min_value=0.0, max_value=0.5), min_size=1, max_size=300),
)
def test_never_more_than_rate_times_t_plus_burst_in_any_window(
    rate: float, burst: int, gaps: list[float]
) -> None:
    quota = Quota(rate, burst)
    now, tat = 0.0, None
    admitted: list[float] = []
    for gap in gaps:
        now += gap
        verdict, tat = step(tat, now, quota)
        if verdict.allowed:
            admitted.append(now)
        else:
            assert verdict.retry_after > 0.0
            # Waiting exactly retry_after is enough.
            assert step(tat, now + verdict.retry_after, quota)[0].allowed
    for i, start in enumerate(admitted):
        for j in range(i, len(admitted)):
            span = admitted[j] - start
            assert j - i + 1 <= rate * span + burst + 1e-6


def test_a_redis_store_needs_a_client_and_a_string_prefix() -> None:
    from seawall.stores import RedisRateLimitStore

    with pytest.raises(ConfigError, match="needs client="):
        RedisRateLimitStore()
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url("redis://127.0.0.1:1/0")
    with pytest.raises(ConfigError, match="prefix"):
        RedisRateLimitStore(client, prefix=3)  # type: ignore[arg-type]
    store = RedisRateLimitStore(client)
    with pytest.raises(ConfigError, match="no async client"):
        asyncio.run(store.atake("k", Quota(1.0, 1), 1, 0.0))
    client.close()
