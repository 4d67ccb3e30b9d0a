"""protect() around real frameworks (FastAPI, Starlette) on a real uvicorn on 127.0.0.1.

The edge is pure ASGI, so it must not care what it wraps: async and threadpool (sync)
routes see the request's deadline and priority, an async route past its deadline is
cancelled and answered 504, a response that already started is aborted rather than
completed, idempotent replays and X-Degraded work through the framework's own response
machinery, and probes never reach the app.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.responses import StreamingResponse
from starlette.routing import Route

import seawall
import seawall.http
from seawall.stores import MemoryStore
from tests.integration.http.servers import ServerThread

pytestmark = pytest.mark.integration


def fastapi_app() -> tuple[FastAPI, dict[str, int]]:
    api = FastAPI()
    effects = {"orders": 0, "cancelled": 0}

    @api.get("/budget")
    async def budget() -> dict[str, Any]:
        return {"remaining": seawall.remaining(), "priority": seawall.current_priority()}

    @api.get("/sync-budget")
    def sync_budget() -> dict[str, Any]:  # runs in the threadpool, with a copied context
        return {"remaining": seawall.remaining()}

    @api.get("/slow")
    async def slow() -> dict[str, str]:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            effects["cancelled"] += 1
            raise
        return {"never": "here"}

    @api.post("/orders", status_code=201)
    async def order(body: dict[str, Any]) -> dict[str, Any]:
        effects["orders"] += 1
        return {"order": effects["orders"], "item": body.get("item")}

    @api.get("/page")
    async def page() -> dict[str, Any]:
        async def product() -> str:
            return "shoe"

        async def recommendations() -> list[str]:
            raise ConnectionError("recommendations are down")

        parts = await seawall.partial(
            {"product": product, "recs": seawall.optional(recommendations, default=[])}
        )
        return dict(parts)

    return api, effects


@pytest.fixture
def fastapi_server() -> Iterator[tuple[str, dict[str, int]]]:
    api, effects = fastapi_app()
    with ServerThread(seawall.http.protect(api, idempotency=MemoryStore())) as url:
        yield url, effects


def test_fastapi_routes_see_the_deadline_and_priority(
    fastapi_server: tuple[str, dict[str, int]],
) -> None:
    url, _ = fastapi_server
    headers = {"X-Request-Timeout-Ms": "1500", "X-Request-Priority": "high"}
    seen = httpx.get(f"{url}/budget", headers=headers, timeout=5).json()
    assert 1.3 < seen["remaining"] <= 1.5
    assert seen["priority"] == "high"
    threaded = httpx.get(f"{url}/sync-budget", headers=headers, timeout=5).json()
    assert 1.3 < threaded["remaining"] <= 1.5


def test_a_fastapi_route_past_its_deadline_is_cancelled_with_504(
    fastapi_server: tuple[str, dict[str, int]],
) -> None:
    url, effects = fastapi_server
    start = time.monotonic()
    response = httpx.get(f"{url}/slow", headers={"X-Request-Timeout-Ms": "200"}, timeout=5)
    elapsed = time.monotonic() - start
    assert response.status_code == 504
    assert response.headers["content-type"] == "application/problem+json"
    assert elapsed < 0.2 + 0.3
    assert effects["cancelled"] == 1


def test_fastapi_idempotent_replay_and_x_degraded(
    fastapi_server: tuple[str, dict[str, int]],
) -> None:
    url, effects = fastapi_server
    keyed = {"Idempotency-Key": "order-1"}
    first = httpx.post(f"{url}/orders", json={"item": "shoe"}, headers=keyed, timeout=5)
    again = httpx.post(f"{url}/orders", json={"item": "shoe"}, headers=keyed, timeout=5)
    other = httpx.post(f"{url}/orders", json={"item": "hat"}, headers=keyed, timeout=5)
    assert (first.status_code, again.status_code, other.status_code) == (201, 201, 422)
    assert again.json() == first.json() == {"order": 1, "item": "shoe"}
    assert again.headers["idempotent-replayed"] == "true"
    assert effects["orders"] == 1
    page = httpx.get(f"{url}/page", timeout=5)
    assert page.status_code == 200
    assert page.headers["x-degraded"] == "recs"
    assert page.json() == {"product": "shoe", "recs": []}
    assert httpx.get(f"{url}/livez", timeout=5).text == "ok\n"  # the edge answers probes


async def _stream() -> AsyncIterator[bytes]:
    yield b"first chunk\n"
    await asyncio.sleep(10)
    yield b"never sent\n"


async def streaming(request: Any) -> StreamingResponse:
    return StreamingResponse(_stream(), media_type="text/plain")


def _read_stream(url: str, received: bytearray) -> int:
    with httpx.stream(
        "GET", f"{url}/stream", headers={"X-Request-Timeout-Ms": "200"}, timeout=5
    ) as response:
        for chunk in response.iter_bytes():
            received += chunk
        return response.status_code


def test_a_started_starlette_response_past_its_deadline_is_aborted_not_completed() -> None:
    app = Starlette(routes=[Route("/stream", streaming)])
    with ServerThread(seawall.http.protect(app, idempotency=False)) as url:
        received = bytearray()
        start = time.monotonic()
        with pytest.raises(httpx.RemoteProtocolError):  # not a complete-looking 200
            _read_stream(url, received)
        assert bytes(received) == b"first chunk\n"
        assert time.monotonic() - start < 0.2 + 0.5
