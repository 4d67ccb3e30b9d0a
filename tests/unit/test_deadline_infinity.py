"""Infinite time is no deadline; NaN, negatives, bools and strings are refused at once."""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import seawall
from seawall import ConfigError, wire
from seawall.lease import LeaderElector, MemoryLeaseStore
from seawall.policies._alarm import arm
from seawall.testing import FakeClock

INF, NAN = math.inf, math.nan


def test_inside_an_infinite_deadline_there_is_no_deadline() -> None:
    with seawall.deadline(INF) as scope:
        assert scope is None
        assert seawall.remaining() is None
        assert seawall.current_deadline() is None
        assert seawall.downstream_timeout(3.0) == 3.0
        assert seawall.downstream_timeout() is None


def test_an_infinite_deadline_keeps_the_enclosing_one() -> None:
    clock = FakeClock()
    with seawall.deadline(5.0, clock=clock), seawall.deadline(INF, clock=clock):
        assert seawall.remaining() == 5.0
        assert seawall.downstream_timeout(10.0) == 4.5


def test_an_infinite_timeout_never_fires_and_hands_down_the_cap() -> None:
    seen: list[tuple[float | None, float | None]] = []

    def probe() -> str:
        seen.append((seawall.remaining(), seawall.downstream_timeout(2.0)))
        return "ok"

    async def aprobe() -> str:
        await asyncio.sleep(0.01)
        return probe()

    timeout = seawall.Timeout(INF)
    assert timeout.call(probe) == "ok"
    assert asyncio.run(timeout.acall(aprobe)) == "ok"
    assert seen == [(None, 2.0), (None, 2.0)]


def test_an_infinite_timeout_inside_a_deadline_keeps_the_deadline() -> None:
    clock = FakeClock()

    async def slow() -> None:
        clock.advance(2.0)

    with (
        seawall.deadline(1.0, clock=clock),
        pytest.raises(seawall.DeadlineExceeded),
    ):
        asyncio.run(seawall.Timeout(INF, clock=clock).acall(slow))


@pytest.mark.parametrize("seconds", [INF, 1e300, 2e9])
def test_an_alarm_beyond_any_clock_is_never_armed(seconds: float) -> None:
    async def main() -> bool:
        alarm = arm(seconds)
        await asyncio.sleep(0.01)
        alarm.disarm()
        return alarm.fired or alarm.active

    assert asyncio.run(main()) is False


@given(st.floats(min_value=0.0, allow_infinity=True, allow_nan=False))
def test_any_long_budget_crosses_the_wire_as_a_header_the_receiver_reads(seconds: float) -> None:
    assert wire.parse_timeout_ms(wire.encode_timeout_ms(seconds)) <= seconds
    assert wire.parse_grpc_timeout(wire.encode_grpc_timeout(seconds)) <= seconds * (1 + 1e-9)


def test_an_infinite_cap_is_no_cap() -> None:
    assert seawall.downstream_timeout(INF) is None
    with seawall.deadline(2.0, clock=FakeClock()):
        assert seawall.downstream_timeout(INF) == 1.8


def test_infinite_bounds_are_no_bounds() -> None:
    assert seawall.Retry(timeout=INF).timeout is None
    assert seawall.Bulkhead(max_wait=INF).max_wait is None
    assert seawall.CircuitBreaker(slow_call_duration=INF).slow_call_duration is None
    assert seawall.Backoff.exponential(maximum=INF).maximum is None
    pipeline = seawall.standard("dep", total_timeout=INF, clock=FakeClock())
    assert pipeline.total_timeout is None
    assert pipeline.call(lambda: 1) == 1


def test_an_optional_part_with_an_infinite_timeout_is_bounded_by_the_deadline_only() -> None:
    part = seawall.optional(lambda: ["x"], default=[], timeout=INF)
    assert part.timeout is None
    result = seawall.partial_sync({"user": lambda: "ada", "recs": part})
    assert dict(result) == {"user": "ada", "recs": ["x"]}
    assert result.complete


def test_a_total_timeout_below_the_default_attempt_timeout_shrinks_it() -> None:
    pipeline = seawall.standard("dep", total_timeout=3.0)
    assert pipeline.attempt_timeout.seconds == 3.0
    assert pipeline.total_timeout == 3.0


def test_timedeltas_are_taken_where_seconds_are() -> None:
    assert seawall.Timeout(timedelta(seconds=2)).seconds == 2.0
    assert seawall.RetryBudget(window=timedelta(seconds=20)).window == 20.0
    assert seawall.Registry(str, idle_timeout=timedelta(minutes=1)).idle_timeout == 60.0
    pipeline = seawall.standard("dep", timeout=timedelta(seconds=1), cooldown=timedelta(1))
    assert pipeline.attempt_timeout.seconds == 1.0
    assert pipeline.breaker.cooldown == 86_400.0


def test_a_huge_backoff_multiplier_is_capped_not_an_overflow() -> None:
    backoff = seawall.Backoff.exponential(initial=1.0, multiplier=1e300, jitter=0.0)
    delays = [backoff.delay(n, None, random.Random(0)) for n in range(1, 6)]
    assert delays[0] == 1.0
    assert delays[-1] == seawall._validate.MAX_SECONDS


def _store_lease() -> Any:
    return MemoryLeaseStore(clock=FakeClock()).lease()


# (what is built, the argument it is refused for)
REFUSED: list[tuple[Callable[[], object], str]] = [
    (lambda: seawall.downstream_timeout(NAN), "cap"),
    (lambda: seawall.downstream_timeout(-1), "cap"),
    (lambda: seawall.downstream_timeout(True), "cap"),
    (lambda: seawall.downstream_timeout("1"), "cap"),  # type: ignore[arg-type]
    (lambda: seawall.downstream_timeout(1.0, reserve_ratio=NAN), "reserve_ratio"),
    (lambda: seawall.Timeout("5"), "Timeout seconds"),  # type: ignore[arg-type]
    (lambda: seawall.Timeout(True), "Timeout seconds"),
    (lambda: seawall.Timeout(NAN), "Timeout seconds"),
    (lambda: seawall.Timeout(-1), "Timeout seconds"),
    (lambda: seawall.Timeout(0), "Timeout seconds"),
    (lambda: seawall.deadline("2"), "deadline seconds"),  # type: ignore[arg-type]
    (lambda: seawall.deadline(NAN), "deadline seconds"),
    (lambda: seawall.deadline(False), "deadline seconds"),
    (lambda: seawall.Backoff.exponential(multiplier=NAN), "multiplier"),
    (lambda: seawall.Backoff.exponential(initial=INF), "initial"),
    (lambda: seawall.Backoff.exponential(jitter=True), "jitter"),
    (lambda: seawall.Backoff.constant(NAN), "delay"),
    (lambda: seawall.Backoff.full_jitter(base="1"), "base"),  # type: ignore[arg-type]
    (lambda: seawall.Backoff.decorrelated(maximum=-1), "maximum"),
    (lambda: seawall.standard("dep", timeout=5, total_timeout=1), "total_timeout"),
    (lambda: seawall.standard("dep", timeout=INF), "total_timeout"),
    (lambda: seawall.standard("dep", timeout=20), "total_timeout"),
    (lambda: seawall.standard("dep", total_timeout=NAN), "total_timeout"),
    (lambda: seawall.standard("dep", retry_budget=True), "retry_budget"),  # type: ignore[arg-type]
    (lambda: seawall.standard("dep", fallback=[]), "fallback"),  # type: ignore[arg-type]
    (lambda: seawall.Retry(True), "attempts"),
    (lambda: seawall.Retry(3.0), "attempts"),  # type: ignore[arg-type]
    (lambda: seawall.Retry(timeout="10"), "Retry timeout"),  # type: ignore[arg-type]
    (lambda: seawall.Retry(timeout=0), "Retry timeout"),
    (lambda: seawall.Retry(backoff=1.0), "backoff"),  # type: ignore[arg-type]
    (lambda: seawall.Retry(budget=0.1), "budget"),  # type: ignore[arg-type]
    (lambda: seawall.RetryBudget(window=INF), "window"),
    (lambda: seawall.RetryBudget(min_per_second=NAN), "min_per_second"),
    (lambda: seawall.RetryBudget(buckets=10**9), "buckets"),
    (lambda: seawall.CircuitBreaker(min_calls=True), "min_calls"),
    (lambda: seawall.CircuitBreaker(half_open_calls=2.5), "half_open_calls"),  # type: ignore[arg-type]
    (lambda: seawall.CircuitBreaker(cooldown=INF), "cooldown"),
    (lambda: seawall.CircuitBreaker(window=INF), "window"),
    (lambda: seawall.CircuitBreaker(window=1e9), "window"),
    (lambda: seawall.CircuitBreaker(window=True, window_type="count"), "window"),
    (lambda: seawall.CircuitBreaker(slow_call_duration=-1), "slow_call_duration"),
    (lambda: seawall.CircuitBreaker(failure_rate="0.5"), "failure_rate"),  # type: ignore[arg-type]
    (lambda: seawall.CircuitBreaker(record=1), "record"),  # type: ignore[arg-type]
    (lambda: seawall.Bulkhead(max_concurrent=True), "max_concurrent"),
    (lambda: seawall.Bulkhead(max_concurrent=10**12), "max_concurrent"),
    (lambda: seawall.Bulkhead(max_wait=NAN), "max_wait"),
    (lambda: seawall.Fallback(factory=5), "factory"),  # type: ignore[arg-type]
    (lambda: seawall.LoadShedder(limit=True), "limit"),
    (lambda: seawall.LoadShedder(max_queue=-1), "max_queue"),
    (lambda: seawall.LoadShedder(queue_interval=INF), "queue_interval"),
    (lambda: seawall.LoadShedder(shares={"low": NAN}), "shares"),
    (lambda: seawall.FixedLimit(True), "fixed concurrency limit"),
    (lambda: seawall.FixedLimit(2.5), "fixed concurrency limit"),  # type: ignore[arg-type]
    (lambda: seawall.AIMDLimit(initial=True), "initial"),
    (lambda: seawall.AIMDLimit(latency_threshold=INF), "latency_threshold"),
    (lambda: seawall.GradientLimit(window=INF), "window"),
    (lambda: seawall.GradientLimit(min_samples=1.5), "min_samples"),  # type: ignore[arg-type]
    (lambda: seawall.AdaptiveThrottle(window=INF), "window"),
    (lambda: seawall.AdaptiveThrottle(buckets=True), "buckets"),
    (lambda: seawall.SingleFlight(key=5), "key"),  # type: ignore[arg-type]
    (lambda: seawall.Cache(ttl="5"), "ttl"),  # type: ignore[arg-type]
    (lambda: seawall.Cache(ttl=INF), "ttl"),
    (lambda: seawall.Cache(5, stale_if_error=INF), "stale_if_error"),
    (lambda: seawall.Cache(5, max_entries=True), "max_entries"),
    (lambda: seawall.Registry(str, idle_timeout=NAN), "idle_timeout"),
    (lambda: seawall.Registry(str, max_keys=1.5), "max_keys"),  # type: ignore[arg-type]
    (lambda: seawall.Registry(5), "factory"),  # type: ignore[arg-type]
    (lambda: seawall.optional(str, default="", timeout="1"), "timeout"),  # type: ignore[arg-type]
    (lambda: seawall.optional(str, default="", timeout=NAN), "timeout"),
    (lambda: LeaderElector(_store_lease(), lease_duration="15"), "lease_duration"),  # type: ignore[arg-type]
    (lambda: LeaderElector(_store_lease(), retry_period=True), "retry_period"),
    (lambda: LeaderElector(_store_lease(), renew_deadline=INF), "renew_deadline"),
]


@pytest.mark.parametrize(
    ("build", "argument"), REFUSED, ids=[f"{i}-{arg}" for i, (_, arg) in enumerate(REFUSED)]
)
def test_a_bad_number_is_refused_at_construction_naming_the_argument(
    build: Callable[[], object], argument: str
) -> None:
    with pytest.raises(ConfigError, match=argument):
        build()
