"""The load generator's schedule, drops, counts and series, on a FakeClock over an
httpx MockTransport: the schedule is exact because virtual time is."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from seawall import ConfigError
from seawall.chaos import LoadGenerator, LoadResult
from seawall.testing import FakeClock


def _ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200)


def _run(handler: object, clock: FakeClock | None = None, **options: object) -> LoadResult:
    generator = LoadGenerator(
        "http://svc/",
        transport=httpx.MockTransport(handler),  # type: ignore[arg-type]
        clock=clock or FakeClock(),
        **options,  # type: ignore[arg-type]
    )
    return generator.run()


def test_requests_follow_the_arrival_schedule() -> None:
    clock = FakeClock()
    result = _run(_ok, clock, rate=10, duration=2.5)
    assert result.scheduled == result.sent == result.ok == 25
    assert [(s.second, s.sent) for s in result.series] == [(0, 10), (1, 10), (2, 5)]
    # Sleeps put request i at exactly i/rate: 24 gaps of 0.1 s after the first.
    assert sum(clock.sleeps) == pytest.approx(2.4)
    assert result.statuses == {"200": 25}
    assert result.errors == 0
    assert result.dropped == 0


def test_max_requests_bounds_the_run() -> None:
    result = _run(_ok, rate=100, duration=10, max_requests=7)
    assert result.scheduled == result.sent == 7


def test_a_full_in_flight_cap_drops_and_counts_instead_of_waiting() -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.05)  # real time: virtual time races past it
        return httpx.Response(200)

    result = _run(slow, rate=1000, duration=0.01, max_in_flight=4)
    assert result.scheduled == 10
    assert result.sent == 4
    assert result.dropped == 6
    assert result.ok == 4
    assert result.series[0].dropped == 6
    assert result.error_rate == pytest.approx(0.6)


def test_statuses_and_exceptions_are_counted_per_kind() -> None:
    calls = 0

    def flaky(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls % 4 == 0:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(503 if calls % 4 == 1 else 200)

    result = _run(flaky, rate=20, duration=1)
    assert result.sent == 20
    assert result.statuses == {"200": 10, "503": 5}
    assert result.exceptions == {"ConnectError": 5}
    assert result.ok == 10
    assert result.errors == 10
    assert result.series[0].errors == 10


def test_ok_predicate_decides_success() -> None:
    result = _run(
        lambda r: httpx.Response(404), rate=5, duration=1, ok=lambda r: r.status_code == 404
    )
    assert result.ok == 5
    assert result.errors == 0


def test_latency_is_measured_from_the_due_time() -> None:
    clock = FakeClock()

    def slow(request: httpx.Request) -> httpx.Response:
        clock.advance(0.05)  # the server takes 50 ms of virtual time
        return httpx.Response(200)

    result = _run(slow, clock, rate=10, duration=1)
    lat = result.latency_ms
    assert lat["p50"] is not None
    assert lat["p50"] >= 49.9
    assert lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p999"] <= lat["max"]  # type: ignore[operator]
    assert result.series[0].p50_ms is not None
    assert result.series[0].p50_ms >= 49.9


def test_result_is_json_serialisable() -> None:
    result = _run(_ok, rate=50, duration=2)
    data = json.loads(json.dumps(result.to_json()))
    assert data["sent"] == 100
    assert data["series"][1]["second"] == 1
    assert set(data["latency_ms"]) == {"p50", "p90", "p99", "p999", "max", "mean"}
    assert data["histogram"].startswith("HISTF")
    assert "sent 100" in result.summary()


def test_an_empty_run_has_no_percentiles() -> None:
    result = _run(_ok, rate=10, duration=1, max_requests=0)
    assert result.sent == 0
    assert result.latency_ms["p50"] is None
    assert result.series == ()
    assert result.throughput == 0.0
    assert result.error_rate == 0.0


@pytest.mark.parametrize(
    "options",
    [
        {"rate": 0, "duration": 1},
        {"rate": float("inf"), "duration": 1},
        {"rate": 1, "duration": 0},
        {"rate": 1, "duration": float("nan")},
        {"rate": 1, "duration": 1, "max_requests": -1},
        {"rate": 1, "duration": 1, "max_in_flight": 0},
        {"rate": 1, "duration": 1, "timeout": 0},
    ],
)
def test_unbounded_or_invalid_runs_are_refused(options: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        LoadGenerator("http://svc/", **options)  # type: ignore[arg-type]
