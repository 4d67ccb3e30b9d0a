"""In-process chaos: the middleware through httpx's ASGITransport, the transports over a
MockTransport, delays on a FakeClock, and dice from a seeded random source."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import httpx
import pytest

from seawall import ConfigError
from seawall.chaos import (
    Abort,
    AsyncChaosTransport,
    ChaosMiddleware,
    ChaosTransport,
    ErrorResponse,
    Fault,
    FaultInjected,
    InjectedFault,
    Latency,
)
from seawall.testing import FakeClock, capture_events


async def ok_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def _get(app: Any, n: int = 1, raise_app_exceptions: bool = True) -> list[httpx.Response]:
    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            return [await client.get("/") for _ in range(n)]

    return asyncio.run(run())


def test_chaos_is_off_unless_enabled() -> None:
    app = ChaosMiddleware(ok_app, ErrorResponse(503), Fault(), Abort())
    assert not app.enabled
    assert [r.status_code for r in _get(app, 5)] == [200] * 5


def test_error_response_replaces_the_app_and_carries_retry_after() -> None:
    clock = FakeClock()
    app = ChaosMiddleware(ok_app, ErrorResponse(503, retry_after=2), enabled=True, clock=clock)
    with capture_events() as events:
        [response] = _get(app)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    assert response.text == "chaos: injected error\n"
    [event] = events
    assert isinstance(event, FaultInjected)
    assert event.fault == "error_response"
    assert event.status == 503
    [teapot] = _get(ChaosMiddleware(ok_app, ErrorResponse(418, body=b"x"), enabled=True))
    assert teapot.status_code == 418
    assert "retry-after" not in teapot.headers


def test_latency_waits_on_the_clock_then_calls_the_app() -> None:
    clock = FakeClock()
    app = ChaosMiddleware(
        ok_app,
        Latency(0.25),
        Latency(0.5, jitter=0.1),
        enabled=True,
        clock=clock,
        rng=random.Random(1),
    )
    [response] = _get(app)
    assert response.status_code == 200
    assert len(clock.sleeps) == 1
    assert 0.25 + 0.4 <= clock.sleeps[0] <= 0.25 + 0.6


def test_fault_raises_in_the_app() -> None:
    app = ChaosMiddleware(ok_app, Fault(), enabled=True)
    with pytest.raises(InjectedFault):
        _get(app)
    custom = ChaosMiddleware(ok_app, Fault(lambda: KeyError("boom")), enabled=True)
    with pytest.raises(KeyError):
        _get(custom)
    [response] = _get(app, raise_app_exceptions=False)
    assert response.status_code == 500


def test_abort_starts_a_response_then_fails_it() -> None:
    app = ChaosMiddleware(ok_app, Abort(), enabled=True)
    with pytest.raises(InjectedFault, match="abort"):
        _get(app)


def test_rate_is_the_share_of_requests_affected() -> None:
    app = ChaosMiddleware(ok_app, ErrorResponse(500, rate=0.3), enabled=True, rng=random.Random(7))
    statuses = [r.status_code for r in _get(app, 400)]
    failed = statuses.count(500)
    # Binomial(400, 0.3): mean 120, sd 9.2.
    assert 80 <= failed <= 160
    replay = ChaosMiddleware(
        ok_app, ErrorResponse(500, rate=0.3), enabled=True, rng=random.Random(7)
    )
    assert [r.status_code for r in _get(replay, 400)] == statuses


def test_first_terminal_fault_wins_and_latency_adds() -> None:
    clock = FakeClock()
    app = ChaosMiddleware(
        ok_app, Latency(1.0), ErrorResponse(502), Fault(), enabled=True, clock=clock
    )
    with capture_events() as events:
        [response] = _get(app)
    assert response.status_code == 502
    assert clock.sleeps == [1.0]
    assert [e.fault for e in events if isinstance(e, FaultInjected)] == [
        "latency",
        "error_response",
    ]


def test_middleware_can_be_switched_at_run_time() -> None:
    app = ChaosMiddleware(ok_app, ErrorResponse(503))
    assert _get(app)[0].status_code == 200
    app.enabled = True
    assert _get(app)[0].status_code == 503


def test_non_http_scopes_pass_through() -> None:
    seen = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    middleware = ChaosMiddleware(app, Fault(), enabled=True)
    asyncio.run(middleware({"type": "lifespan"}, None, None))  # type: ignore[arg-type]
    assert seen == ["lifespan"]


def _mock() -> httpx.MockTransport:
    return httpx.MockTransport(lambda request: httpx.Response(200, text="real"))


def test_async_transport_faults() -> None:
    async def run() -> None:
        clock = FakeClock()
        errors = AsyncChaosTransport(Fault(), transport=_mock(), enabled=True)
        async with httpx.AsyncClient(transport=errors) as client:
            with pytest.raises(httpx.ConnectError):
                await client.get("http://svc/")
        aborts = AsyncChaosTransport(Abort(), transport=_mock(), enabled=True)
        async with httpx.AsyncClient(transport=aborts) as client:
            with pytest.raises(httpx.RemoteProtocolError):
                await client.get("http://svc/")
        slow = AsyncChaosTransport(
            Latency(2.0), ErrorResponse(429), transport=_mock(), enabled=True, clock=clock
        )
        async with httpx.AsyncClient(transport=slow) as client:
            response = await client.get("http://svc/")
        assert response.status_code == 429
        assert response.headers["retry-after"] == "1"
        assert clock.sleeps == [2.0]
        off = AsyncChaosTransport(Fault(), transport=_mock())
        async with httpx.AsyncClient(transport=off) as client:
            assert (await client.get("http://svc/")).text == "real"

    asyncio.run(run())


def test_sync_transport_faults() -> None:
    clock = FakeClock()
    transport = ChaosTransport(
        Latency(0.5), Fault(lambda: httpx.ReadTimeout("slow")), transport=_mock(), clock=clock
    )
    with httpx.Client(transport=transport) as client:
        assert client.get("http://svc/").text == "real"  # off by default
        transport.enabled = True
        with pytest.raises(httpx.ReadTimeout):
            client.get("http://svc/")
    assert clock.sleeps == [0.5]


def test_transport_rate_with_seeded_rng() -> None:
    transport = ChaosTransport(
        Fault(rate=0.5), transport=_mock(), enabled=True, rng=random.Random(3)
    )
    outcomes = []
    with httpx.Client(transport=transport) as client:
        for _ in range(200):
            try:
                client.get("http://svc/")
                outcomes.append(True)
            except httpx.ConnectError:
                outcomes.append(False)
    assert 65 <= outcomes.count(False) <= 135


@pytest.mark.parametrize(
    "make",
    [
        lambda: Latency(-1),
        lambda: Latency(1, rate=1.5),
        lambda: ErrorResponse(200),
        lambda: Fault(rate=-0.1),
        lambda: Abort(rate=2),
        lambda: ChaosMiddleware(ok_app, "latency"),  # type: ignore[arg-type]
    ],
)
def test_invalid_faults_are_config_errors(make: Any) -> None:
    with pytest.raises(ConfigError):
        make()
