"""ChaosMiddleware in front of a real app on a real uvicorn: what clients see."""

from __future__ import annotations

import random
from typing import Any

import httpx
import pytest

from seawall.chaos import Abort, ChaosMiddleware, ErrorResponse, Fault, Latency


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
    )
    await send({"type": "http.response.body", "body": b"ok"})


def test_error_responses_at_a_rate_and_latency(serve: Any) -> None:
    middleware = ChaosMiddleware(
        app, Latency(0.03), ErrorResponse(503, rate=0.5), enabled=True, rng=random.Random(4)
    )
    with serve(middleware) as url, httpx.Client(base_url=url) as client:
        responses = [client.get("/") for _ in range(40)]
    statuses = [r.status_code for r in responses]
    assert set(statuses) == {200, 503}
    assert 8 <= statuses.count(503) <= 32
    assert all(r.headers["retry-after"] == "1" for r in responses if r.status_code == 503)
    assert min(r.elapsed.total_seconds() for r in responses) >= 0.029


def test_fault_is_a_500_and_abort_cuts_the_connection(serve: Any) -> None:
    faulty = ChaosMiddleware(app, Fault(), enabled=True)
    with serve(faulty) as url, httpx.Client(base_url=url) as client:
        assert client.get("/").status_code == 500
    aborting = ChaosMiddleware(app, Abort(), enabled=True)
    with serve(aborting) as url, httpx.Client(base_url=url) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            client.get("/")
