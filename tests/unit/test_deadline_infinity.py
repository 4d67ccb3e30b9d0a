"""Infinite time is no deadline: no scope, no alarm, no overflow, sync or async."""

from __future__ import annotations

import asyncio
import math
import random
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

import seawall
from seawall import wire
from seawall._alarm import arm
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


def test_an_infinite_timeout_never_fires_however_long_the_call_takes() -> None:
    clock = FakeClock()
    timeout = seawall.Timeout(INF, clock=clock)

    def slow() -> str:
        clock.advance(1e12)
        return "late but fine"

    async def aslow() -> str:
        await clock.asleep(1e12)
        return "late but fine"

    assert timeout.call(slow) == "late but fine"
    assert asyncio.run(timeout.acall(aslow)) == "late but fine"


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
