"""Pipelines and the standard() preset: order, forms and defaults."""

from __future__ import annotations

import asyncio
import random

import pytest

import seawall
from seawall.testing import FakeClock, capture_events


def test_pipeline_runs_outermost_first() -> None:
    order: list[str] = []

    class Mark(seawall.Policy):
        def __init__(self, name: str) -> None:
            self.name = name

        def _guard(self, fn, args, kwargs):  # type: ignore[no-untyped-def]
            order.append(self.name)
            return fn(*args, **kwargs)

    pipeline = seawall.Pipeline(Mark("a"), seawall.Pipeline(Mark("b"), Mark("c")))
    assert pipeline.call(lambda x: x + 1, 1) == 2
    assert order == ["a", "b", "c"]
    assert len(pipeline.policies) == 3  # nested pipelines are flattened

    order.clear()

    @pipeline
    def decorated(x: int) -> int:
        return x * 2

    assert decorated(4) == 8
    assert order == ["a", "b", "c"]
    with pytest.raises(TypeError):
        seawall.Pipeline(lambda: None)  # type: ignore[arg-type]


def test_standard_order_and_seed_defaults() -> None:
    p = seawall.standard("payments", fallback=seawall.Fallback(None))
    kinds = [type(x).__name__ for x in p.policies]
    assert kinds == ["Fallback", "Retry", "CircuitBreaker", "Bulkhead", "Timeout"]
    assert p.attempt_timeout.seconds == 5.0
    assert p.total_timeout == 10.0
    assert p.retry.attempts == 3
    assert p.retry.backoff == seawall.Backoff.exponential(1.0, 2.0, None, 0.2)
    assert p.retry.budget is not None
    assert p.retry.budget.ratio == 0.1
    assert (p.breaker.failure_rate, p.breaker.window, p.breaker.cooldown) == (0.5, 30.0, 30.0)
    assert p.breaker.min_calls == 20
    rpc = seawall.standard("inventory", kind="rpc")
    assert rpc.attempt_timeout.seconds == 1.0
    assert next(type(x).__name__ for x in rpc.policies) == "Retry"
    assert rpc.total_timeout == 2.0
    with pytest.raises(seawall.ConfigError):
        seawall.standard("x", kind="soap")  # type: ignore[arg-type]


def test_standard_rides_out_a_flaky_dependency() -> None:
    clock = FakeClock()
    p = seawall.standard("flaky", clock=clock, rng=random.Random(1))
    calls = 0

    @p
    def fetch() -> str:
        nonlocal calls
        calls += 1
        if calls % 3:
            raise ConnectionError
        return "ok"

    assert fetch() == "ok"
    assert calls == 3
    assert len(clock.sleeps) == 2


def test_an_idle_caller_of_a_dead_dependency_stops_retrying_with_the_default_budget() -> None:
    """The retry budget's failure reserve: 2 tokens, -1 per failed call, +0.5 per good one.

    A caller that sends nothing else cannot tell a flake from an outage: its first failed
    call retries with every attempt out of a full reserve, and its next calls to a
    dependency that keeps failing are not retried. That is what 10,000 such callers may
    add to a dead one.
    """
    clock = FakeClock()
    p = seawall.standard("dep", clock=clock, rng=random.Random(1))
    calls = 0

    def down() -> None:
        nonlocal calls
        calls += 1
        raise ConnectionError

    for _ in range(5):
        with pytest.raises(ConnectionError):
            p.call(down)
    assert calls == 3 + 4  # every attempt of the first call, then one per call
    assert p.retry.calls_budget_refused == 4


def test_open_breaker_stops_retries_and_bulkhead_rejection_is_not_a_failure() -> None:
    clock = FakeClock()
    p = seawall.standard("dep", clock=clock, min_calls=2, max_concurrent=1, max_queue=0)
    attempts = 0

    def down() -> None:
        nonlocal attempts
        attempts += 1
        raise ConnectionError

    with pytest.raises(seawall.CircuitOpen):
        p.call(down)  # attempt 1 fails, attempt 2 fails and trips, attempt 3 is rejected
    assert attempts == 2
    assert p.breaker.state == "open"


def test_fallback_catches_an_open_breaker() -> None:
    clock = FakeClock()
    p = seawall.standard("recs", clock=clock, fallback=seawall.Fallback([]), min_calls=1)
    p.breaker.force_open()
    with capture_events() as events:
        assert p.call(lambda: ["item"]) == []
    assert any(isinstance(e, seawall.FallbackUsed) for e in events)


def test_the_total_timeout_bounds_retries() -> None:
    clock = FakeClock()
    p = seawall.standard("slow", clock=clock, total_timeout=3.0, rng=random.Random(0))

    def down() -> None:
        clock.advance(0.5)
        raise ConnectionError

    with pytest.raises((ConnectionError, seawall.DeadlineExceeded)):
        p.call(down)
    assert clock.now() <= 3.0


def test_async_standard() -> None:
    clock = FakeClock()
    p = seawall.standard("async", clock=clock)
    calls = 0

    @p
    async def fetch(x: int) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError
        return x

    assert asyncio.run(fetch(7)) == 7
    assert asyncio.run(p.acall(fetch, 8)) == 8


def test_call_forms_agree() -> None:
    retry = seawall.Retry(clock=FakeClock())

    def add(a: int, b: int) -> int:
        return a + b

    async def aadd(a: int, b: int) -> int:
        return a + b

    assert retry.call(add, 1, b=2) == 3
    assert retry(add)(1, b=2) == 3
    assert asyncio.run(retry.acall(aadd, 1, b=2)) == 3
    assert asyncio.run(retry(aadd)(1, b=2)) == 3
