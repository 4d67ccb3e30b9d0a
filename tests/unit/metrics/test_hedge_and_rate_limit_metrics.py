"""Hedges and rate limiters reach every reader: exposition, collector, OTel, JSON, tiles."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

import seawall
from seawall.metrics import instrument, prometheus_text, register
from seawall.metrics._json import snapshot_json
from seawall.metrics._sampler import Sampler, view
from seawall.metrics._tiles import readings
from seawall.testing import FakeClock

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


class Busy(ConnectionError):
    """Transient: not an answer, so the hedge goes at once."""


def _samples(text: bytes) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text.decode())
        for s in family.samples
    }


def _one(samples: Samples, metric: str, **labels: str) -> float:
    return samples[metric, frozenset(labels.items())]


def _hedged(name: str) -> list[seawall.Hedge]:
    """Two hedges of one name, four calls: a hedge won, the original won, two failures.

    The catalog holds policies weakly: the caller keeps the returned hedges alive.
    """
    clock = FakeClock()
    quick = seawall.Hedge(0.0, clock=clock, budget=False, name=name)

    def second_wins() -> int:
        if seawall.current_attempt() == 1:
            raise Busy("refused")
        return seawall.current_attempt()

    assert quick.call(second_wins) == 2  # sync, on the hedge's pool

    async def first_answers() -> int:
        return seawall.current_attempt()

    async def fatal() -> int:
        raise KeyError("bad request")

    async def down() -> int:
        raise Busy(f"attempt {seawall.current_attempt()}")

    async def main() -> None:
        slow = seawall.Hedge(10.0, clock=clock, budget=False, name=name)
        assert await slow.acall(first_answers) == 1
        with pytest.raises(KeyError):
            await slow.acall(fatal)
        with pytest.raises(Busy, match="attempt 2"):
            await slow.acall(down)
        keep.append(slow)

    keep: list[seawall.Hedge] = [quick]
    asyncio.run(main())
    return keep


def test_a_hedge_counts_each_call_by_how_it_ended() -> None:
    hedge = seawall.Hedge(10.0, clock=FakeClock(), budget=False, name="hedge-outcomes")

    async def ok() -> int:
        return 1

    async def fatal() -> int:
        raise KeyError("bad request")

    async def down() -> int:
        raise Busy("down")

    async def main() -> None:
        await hedge.acall(ok)
        for fn in (fatal, down, down):
            with pytest.raises((KeyError, Busy)):
                await hedge.acall(fn)

    asyncio.run(main())
    assert hedge.answered_original == 1
    assert hedge.failed_unhedged == 1  # the fatal error ended the call before any hedge
    assert hedge.failed_hedged == 2  # both copies failed


def test_hedged_calls_are_retry_series_with_attempt_type_hedge_in_both_expositions() -> None:
    alive = _hedged("hedge-prom")
    registry = CollectorRegistry()
    register(registry)
    for text in (prometheus_text(), generate_latest(registry)):
        samples = _samples(text)
        attempts = "seawall_retry_attempts_total"
        assert _one(samples, attempts, name="hedge-prom", attempt_type="original") == 4
        assert _one(samples, attempts, name="hedge-prom", attempt_type="hedge") == 2
        calls = "seawall_retry_calls_total"
        assert _one(samples, calls, name="hedge-prom", outcome="success_first_try") == 1
        assert _one(samples, calls, name="hedge-prom", outcome="success_after_retry") == 1
        assert _one(samples, calls, name="hedge-prom", outcome="failed_after_retry") == 1
        assert _one(samples, calls, name="hedge-prom", outcome="not_retryable") == 1
        assert _one(samples, "seawall_hedge_won_total", name="hedge-prom") == 1
        refused = "seawall_hedge_refused_total"
        assert _one(samples, refused, name="hedge-prom", reason="budget") == 0
        # Two hedges of one name: the delay gauge is the larger of theirs.
        assert _one(samples, "seawall_hedge_delay_seconds", name="hedge-prom") == 10.0
    assert len(alive) == 2


def test_hedges_refused_by_the_budget_are_counted_by_reason() -> None:
    clock = FakeClock()
    budget = seawall.RetryBudget(ratio=0.0, min_per_second=0.1, window=10.0, clock=clock)
    hedge = seawall.Hedge(0.01, clock=clock, budget=budget, name="hedge-refused")

    async def call() -> int:
        if seawall.current_attempt() == 1:
            await clock.asleep(1.0)
        return seawall.current_attempt()

    async def main() -> None:
        for _ in range(3):
            await hedge.acall(call)

    asyncio.run(main())
    samples = _samples(prometheus_text())
    refused = "seawall_hedge_refused_total"
    assert _one(samples, refused, name="hedge-refused", reason="budget") == 2
    assert _one(samples, refused, name="hedge-refused", reason="deadline") == 0
    utilization = _one(samples, "seawall_retry_budget_utilization_ratio", name="hedge-refused")
    assert utilization == 1.0


def test_the_json_snapshot_has_the_hedges_attempts_and_the_limiters_decisions() -> None:
    alive = _hedged("hedge-json")
    limiter = seawall.RateLimiter("limiter-json", rate=1.0, burst=2, clock=FakeClock())
    for tenant in ("acme", "acme", "acme", "globex"):
        with contextlib.suppress(seawall.RateLimited):
            limiter.acquire(tenant)
    policies = snapshot_json()["policies"]
    hedges = [p for p in policies if p["name"] == "hedge-json"]
    assert [p["kind"] for p in hedges] == ["hedge"]
    assert hedges[0]["attempts"] == {"original": 4, "retry": 0, "hedge": 2}
    assert hedges[0]["hedges"]["won"] == 1
    (limited,) = [p for p in policies if p["name"] == "limiter-json"]
    assert limited["kind"] == "rate_limiter"
    assert limited["requests"] == {"admitted": 3, "limited": 1}
    assert "acme" not in repr(limited)  # keys are tenants: never in a snapshot
    assert len(alive) == 2


def test_the_dashboard_tile_of_a_hedged_dependency_counts_calls_and_hedges() -> None:
    sampler = Sampler(size=120)
    sampler.record(0.0, {"a": readings(snapshot_json())})  # the baseline
    alive = _hedged("hedge-tile")
    after = snapshot_json()
    tile = readings(after)[("hedge-tile", None)]
    assert (tile.counters["success"], tile.counters["failure"]) == (2, 2)
    assert tile.counters["hedges"] == 2
    sampler.record(1.0, {"a": readings(after)})
    (shown,) = [t for t in view(sampler, window=10)["tiles"] if t["id"] == "hedge-tile|"]
    assert shown["hedges"] == 2
    assert shown["counts"]["success"] == 2
    assert len(alive) == 2


class _DownStore:
    def take(self, *args: Any) -> Any:
        raise ConnectionError("store down")

    async def atake(self, *args: Any) -> Any:
        raise ConnectionError("store down")


def test_a_rate_limiter_is_counted_by_decision_and_store_errors_never_by_key() -> None:
    limiter = seawall.RateLimiter("limiter-prom", rate=1.0, burst=1, clock=FakeClock())
    for tenant in ("tenant-a", "tenant-a", "tenant-b"):
        with contextlib.suppress(seawall.RateLimited):
            limiter.acquire(tenant)
    down = seawall.RateLimiter(
        "limiter-prom", rate=1.0, store=_DownStore(), on_store_error="closed", clock=FakeClock()
    )
    with pytest.raises(seawall.RateLimited):
        down.acquire("tenant-c")
    registry = CollectorRegistry()
    register(registry)
    for text in (prometheus_text(), generate_latest(registry)):
        samples = _samples(text)
        requests = "seawall_rate_limiter_requests_total"
        assert _one(samples, requests, name="limiter-prom", decision="admitted") == 2
        assert _one(samples, requests, name="limiter-prom", decision="limited") == 2
        assert _one(samples, "seawall_rate_limiter_store_errors_total", name="limiter-prom") == 1
        assert "tenant-" not in text.decode()


def test_otel_instruments_carry_hedge_attempts_and_rate_limiter_decisions() -> None:
    reader = InMemoryMetricReader()
    instrument(meter_provider=MeterProvider(metric_readers=[reader]))
    alive = _hedged("hedge-otel")
    limiter = seawall.RateLimiter("limiter-otel", rate=1.0, burst=1, clock=FakeClock())
    limiter.acquire("k")
    data = reader.get_metrics_data()
    assert data is not None
    points = {
        (metric.name, tuple(sorted(point.attributes.items()))): point.value
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for metric in sm.metrics
        for point in metric.data.data_points
    }
    hedge_attempts = (("attempt_type", "hedge"), ("name", "hedge-otel"))
    assert points["seawall.retry.attempts", hedge_attempts] == 2
    assert points["seawall.hedge.won", (("name", "hedge-otel"),)] == 1
    assert points["seawall.hedge.delay", (("name", "hedge-otel"),)] == 10.0
    admitted = (("decision", "admitted"), ("name", "limiter-otel"))
    assert points["seawall.rate_limiter.requests", admitted] == 1
    assert points["seawall.rate_limiter.store_errors", (("name", "limiter-otel"),)] == 0
    assert len(alive) == 2


Behaviour = str  # what one attempt does: answer, slow, transient, fatal


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.lists(st.sampled_from(["answer", "slow", "transient", "fatal"]), min_size=3, max_size=3),
        min_size=1,
        max_size=6,
    ),
    st.integers(min_value=0, max_value=2),
)
def test_every_ended_call_is_counted_once_by_how_it_ended(
    calls: list[list[Behaviour]], max_hedges: int
) -> None:
    clock = FakeClock()
    hedge = seawall.Hedge(0.05, max_hedges=max_hedges, clock=clock, budget=False)

    async def main() -> None:
        for plan in calls:

            async def attempt(plan: list[Behaviour] = plan) -> int:
                what = plan[seawall.current_attempt() - 1]
                if what == "slow":
                    await clock.asleep(1.0)
                elif what == "transient":
                    raise Busy("refused")
                elif what == "fatal":
                    raise KeyError("bad request")
                return seawall.current_attempt()

            with contextlib.suppress(Busy, KeyError):
                await hedge.acall(attempt)

    asyncio.run(main())
    ended = hedge.answered_original + hedge.hedges_won + hedge.failed_hedged
    assert ended + hedge.failed_unhedged == hedge.calls == len(calls)
