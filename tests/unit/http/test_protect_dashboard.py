"""``protect()`` serves the dashboard ahead of every step: no shedding, deadline or key."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

import seawall
from seawall import ConfigError
from seawall.http import protect


async def hello(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    if scope["path"] == "/slow":
        await asyncio.sleep(0.2)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"app"})


def test_the_page_is_served_past_a_full_shedder_a_spent_budget_and_required_keys() -> None:
    shedder = seawall.LoadShedder("t", limit=1, max_queue=0)
    app = protect(hello, shedder=shedder, require_idempotency=("/",), metrics_path=None)

    async def go() -> tuple[httpx.Response, httpx.Response, httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            holder = asyncio.create_task(client.get("/slow", headers={"X-Request-Priority": "low"}))
            await asyncio.sleep(0.05)  # the shedder's one permit is held
            shed = await client.get("/x", headers={"X-Request-Priority": "low"})
            page = await client.get(
                "/seawall/dashboard",
                headers={"X-Request-Priority": "low", "X-Request-Timeout-Ms": "0"},
            )
            await holder
            await app.dashboard.aclose()  # type: ignore[union-attr]
            return shed, page, await client.post("/seawall/dashboard")

    shed, page, posted = asyncio.run(go())
    assert shed.status_code == 503
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert '"stream": "/seawall/dashboard/stream"' in page.text
    assert posted.status_code == 405  # not the 400 of a missing Idempotency-Key


def test_the_dashboard_path_is_configurable_and_off_able() -> None:
    moved = protect(hello, dashboard_path="/ops/dash", metrics_path=None)
    off = protect(hello, dashboard_path=None, metrics_path=None)

    async def get(app: Any, path: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get(path)
        if app.dashboard is not None:
            await app.dashboard.aclose()
        return response

    assert asyncio.run(get(moved, "/ops/dash")).status_code == 200
    assert asyncio.run(get(moved, "/seawall/dashboard")).text == "app"
    assert asyncio.run(get(off, "/seawall/dashboard")).text == "app"
    assert off.dashboard is None


def test_lifespan_startup_starts_sampling_and_shutdown_stops_it() -> None:
    app = protect(hello, metrics_path=None)
    assert app.dashboard is not None

    async def go() -> tuple[bool, bool]:
        messages = asyncio.Queue[dict[str, Any]]()
        for kind in ("lifespan.startup", "lifespan.shutdown"):
            messages.put_nowait({"type": kind})
        running = []

        async def receive() -> dict[str, Any]:
            message = await messages.get()
            running.append(app.dashboard._task is not None and not app.dashboard._task.done())  # type: ignore[union-attr]
            return message

        async def send(message: dict[str, Any]) -> None:
            pass

        async def inner_lifespan(scope: Any, receive: Any, send: Any) -> None:
            assert (await receive())["type"] == "lifespan.startup"
            await asyncio.sleep(0.01)  # a sample has a chance to run
            assert (await receive())["type"] == "lifespan.shutdown"

        app.app = inner_lifespan
        await app({"type": "lifespan"}, receive, send)
        task = app.dashboard._task  # type: ignore[union-attr]
        return running[-1], task is None

    started, stopped = asyncio.run(go())
    assert started  # sampling ran between startup and shutdown
    assert stopped


@pytest.mark.parametrize("path", ["dash", "/dash/", 3])
def test_a_bad_dashboard_path_is_a_config_error(path: Any) -> None:
    with pytest.raises(ConfigError, match="dashboard path must start with /"):
        protect(hello, dashboard_path=path, metrics_path=None)


def test_a_dashboard_path_taken_by_the_snapshot_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="already served"):
        protect(hello, dashboard_path="/seawall", metrics_path=None)
