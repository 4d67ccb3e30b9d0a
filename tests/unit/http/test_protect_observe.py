"""protect() serves /metrics and /seawall ahead of every step, and times requests by route."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

import seawall
from seawall import _durations
from seawall.http import protect


def _get(app: Any, *paths: str, **headers: str) -> list[httpx.Response]:
    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return [await client.get(path, headers=headers) for path in paths]

    return asyncio.run(run())


def _orders() -> FastAPI:
    api = FastAPI()

    @api.get("/orders/{order_id}")
    async def order(order_id: int) -> dict[str, int]:
        return {"id": order_id}

    return api


def test_metrics_and_snapshot_are_served_by_default() -> None:
    metrics, snapshot = _get(protect(_orders(), service="checkout"), "/metrics", "/seawall")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain; version=")
    assert "# TYPE seawall_retry_calls_total counter" in metrics.text
    body = snapshot.json()
    assert (body["version"], body["service"]) == (1, "checkout")
    assert set(body) >= {"time", "policies", "http"}
    assert body["http"]["buckets"] == list(_durations.BUCKETS)


def test_paths_move_and_none_turns_them_off() -> None:
    app = protect(_orders(), metrics_path="/internal/metrics", snapshot_path=None)
    moved, old, off = _get(app, "/internal/metrics", "/metrics", "/seawall")
    assert moved.status_code == 200
    assert (old.status_code, off.status_code) == (404, 404)


def test_scrapes_are_never_shed_nor_need_a_budget() -> None:
    shedder = seawall.LoadShedder("observe-shed", limit=1, max_queue=0)
    app = protect(_orders(), shedder=shedder)

    async def run() -> list[int]:
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            with shedder.admit("critical"):  # the only slot is taken
                shed = await client.get("/orders/1", headers={"X-Request-Priority": "low"})
                scrape = await client.get("/metrics", headers={"X-Request-Priority": "low"})
                spent = await client.get("/seawall", headers={"X-Request-Timeout-Ms": "0"})
        return [shed.status_code, scrape.status_code, spent.status_code]

    assert asyncio.run(run()) == [503, 200, 200]


def test_requests_are_timed_by_route_template_never_the_raw_path() -> None:
    _durations.SERVER.clear()
    _get(protect(_orders()), "/orders/1", "/orders/2", "/missing/3", "/metrics")
    rows = {(r["route"], r["method"], r["status"]): r for r in _durations.SERVER.rows()}
    assert set(rows) == {("/orders/{order_id}", "GET", 200), ("other", "GET", 404)}
    assert rows["/orders/{order_id}", "GET", 200]["count"] == 2
    assert sum(rows["/orders/{order_id}", "GET", 200]["counts"]) == 2


def test_every_answer_is_timed_with_the_status_the_caller_got() -> None:
    """The edge's own answers count as the handler's do; probes and pages are not timed."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["path"] == "/boom":
            raise RuntimeError("handler bug")
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def run() -> list[int]:
        shedder = seawall.LoadShedder("observe-status", limit=1, max_queue=0)
        limiter = seawall.RateLimiter("observe-status", rate=1.0, burst=4)
        protected = protect(app, shedder=shedder, idempotency=False, rate_limit=limiter)
        transport = httpx.ASGITransport(protected, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            statuses = [(await client.get("/ok")).status_code]
            statuses.append(
                (await client.get("/ok", headers={"X-Request-Timeout-Ms": "x"})).status_code
            )
            with shedder.admit("critical"):  # the only slot is taken
                statuses.append(
                    (await client.get("/ok", headers={"X-Request-Priority": "low"})).status_code
                )
            statuses.append((await client.get("/boom")).status_code)
            statuses.append((await client.get("/ok")).status_code)  # over the quota
            statuses.append((await client.get("/livez")).status_code)
            statuses.append((await client.get("/metrics")).status_code)
        return statuses

    _durations.SERVER.clear()
    assert asyncio.run(run()) == [201, 400, 503, 500, 429, 200, 200]
    counted = sorted((r["status"], r["count"]) for r in _durations.SERVER.rows())
    assert counted == [(201, 1), (400, 1), (429, 1), (500, 1), (503, 1)]


def test_request_durations_can_be_turned_off() -> None:
    _durations.SERVER.clear()
    _get(protect(_orders(), request_durations=False), "/orders/1")
    assert _durations.SERVER.rows() == []


def test_metrics_need_no_metrics_library(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    (metrics,) = _get(protect(_orders()), "/metrics")
    assert metrics.status_code == 200
    assert "# TYPE seawall_circuit_breaker_state gauge" in metrics.text


def test_an_application_registry_is_served_with_seawall_collector_added() -> None:
    from prometheus_client import CollectorRegistry, Counter

    registry = CollectorRegistry()
    Counter("app_orders", "Orders taken.", registry=registry).inc()
    (metrics,) = _get(protect(_orders(), metrics_registry=registry), "/metrics")
    assert "app_orders_total 1.0" in metrics.text
    assert "# TYPE seawall_retry_calls_total counter" in metrics.text
    with pytest.raises(seawall.ConfigError, match="metrics_registry"):
        protect(_orders(), metrics_registry=object())  # type: ignore[arg-type]
    with pytest.raises(seawall.ConfigError, match="metrics_registry"):
        protect(_orders(), metrics_registry=registry, metrics_path=None)


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("metrics_path", "metrics"),
        ("snapshot_path", 3),
        ("service", 1.5),
        ("request_durations", "yes"),
        ("snapshot_path", "/metrics"),
    ],
)
def test_bad_observe_options_are_config_errors(option: str, value: object) -> None:
    with pytest.raises(seawall.ConfigError, match=option):
        protect(_orders(), **{option: value})  # type: ignore[arg-type]
