"""The load generator against real servers on uvicorn: steady load is measured as it is,
and overload shows up as climbing latency rather than a slower send rate (open loop)."""

from __future__ import annotations

import asyncio
from typing import Any

from seawall.chaos import LoadGenerator


async def fast(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
    )
    await send({"type": "http.response.body", "body": b"ok"})


class Saturated:
    """One request at a time, 20 ms each: capacity 50 requests/s."""

    def __init__(self) -> None:
        self.lock: asyncio.Lock | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.lock = self.lock or asyncio.Lock()
        async with self.lock:
            await asyncio.sleep(0.02)
        await fast(scope, receive, send)


def test_steady_load_is_all_sent_and_ok(serve: Any) -> None:
    with serve(fast) as url:
        result = LoadGenerator(url + "/", rate=200, duration=1.0).run()
    print(result.summary())
    assert result.sent == 200
    assert result.ok == 200
    assert result.dropped == 0
    assert result.latency_ms["p50"] is not None
    assert result.latency_ms["p50"] < 50
    assert [s.sent for s in result.series] == [200]


def test_overload_shows_as_latency_not_as_a_lower_rate(serve: Any) -> None:
    with serve(Saturated()) as url:
        result = LoadGenerator(url + "/", rate=100, duration=1.5, timeout=10).run()
    print(result.summary(), [(s.second, s.p50_ms, s.p99_ms) for s in result.series])
    assert result.sent == 150  # offered load held at 100/s though the server does 50/s
    first, second = result.series[0], result.series[1]
    assert first.p50_ms is not None
    assert second.p50_ms is not None
    assert second.p50_ms > first.p50_ms + 200  # the queue grows second by second
    assert result.latency_ms["p99"] is not None
    assert result.latency_ms["p99"] > 1000


def test_in_flight_cap_drops_under_overload(serve: Any) -> None:
    with serve(Saturated()) as url:
        result = LoadGenerator(url + "/", rate=100, duration=0.5, max_in_flight=5).run()
    # At most 5 waiting plus ~25 served in half a second can be sent; the rest are dropped.
    assert result.sent + result.dropped == 50
    assert result.dropped >= 12
    assert result.sent <= 38
