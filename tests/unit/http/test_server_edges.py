"""Server edges in-process (httpx.ASGITransport): deadlines, shedding, health, X-Degraded."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import seawall
from seawall.http import (
    DeadlineMiddleware,
    DegradedMiddleware,
    Health,
    HealthMiddleware,
    SheddingMiddleware,
)
from seawall.stores import MemoryStore


async def echo_budget(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answer with the deadline and priority the handler sees."""
    body = json.dumps(
        {"remaining": seawall.remaining(), "priority": seawall.current_priority()}
    ).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


async def hang(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await asyncio.Event().wait()


def request(app: Any, path: str = "/", headers: dict[str, str] | None = None) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get(path, headers=headers or {})

    return asyncio.run(go())


def test_handler_runs_under_the_callers_budget_capped_at_the_maximum() -> None:
    app = DeadlineMiddleware(echo_budget, maximum=5.0)
    seen = request(app, headers={"X-Request-Timeout-Ms": "1500"}).json()["remaining"]
    assert 1.4 < seen <= 1.5
    capped = request(app, headers={"X-Request-Timeout-Ms": "60000"}).json()["remaining"]
    assert 4.9 < capped <= 5.0  # a caller cannot extend the server's maximum
    default = request(app).json()["remaining"]
    assert 4.9 < default <= 5.0
    grpc = request(app, headers={"grpc-timeout": "200m"}).json()["remaining"]
    assert 0.1 < grpc <= 0.2


def test_spent_budget_gets_504_without_running_the_handler() -> None:
    ran = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        ran.append(1)

    response = request(DeadlineMiddleware(app), headers={"X-Request-Timeout-Ms": "0"})
    assert response.status_code == 504
    assert response.headers["content-type"] == "application/problem+json"
    assert ran == []


def test_a_handler_past_its_deadline_is_cancelled_and_answered_504() -> None:
    response = request(DeadlineMiddleware(hang), headers={"X-Request-Timeout-Ms": "30"})
    assert response.status_code == 504
    assert "budget" in response.json()["detail"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("X-Request-Timeout-Ms", "-5"),
        ("X-Request-Timeout-Ms", "soon"),
        ("grpc-timeout", "10x"),
        ("x-envoy-expected-rq-timeout-ms", "1.5"),
    ],
)
def test_malformed_timeout_headers_get_400_with_a_reason(name: str, value: str) -> None:
    response = request(DeadlineMiddleware(echo_budget), headers={name: value})
    assert response.status_code == 400
    assert name.lower() in response.json()["detail"]


def _shedder(limit: int) -> seawall.LoadShedder:
    return seawall.LoadShedder("t", limit=limit, max_queue=0)


def test_shed_requests_get_503_with_retry_after_and_probes_pass() -> None:
    shedder = _shedder(1)
    gate = asyncio.Event()

    async def slow(scope: Any, receive: Any, send: Any) -> None:
        if scope["path"] == "/slow":
            await gate.wait()
        await echo_budget(scope, receive, send)

    app = HealthMiddleware(SheddingMiddleware(slow, shedder=shedder))

    async def go() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            holder = asyncio.create_task(client.get("/slow", headers={"X-Request-Priority": "low"}))
            await asyncio.sleep(0.01)
            shed = await client.get("/x", headers={"X-Request-Priority": "low"})
            probe = await client.get("/livez")
            gate.set()
            return [await holder, shed, probe]

    held, shed, probe = asyncio.run(go())
    assert held.status_code == 200
    assert shed.status_code == 503
    assert int(shed.headers["retry-after"]) >= 1
    assert shed.json()["title"] == "Overloaded"
    assert probe.status_code == 200


def test_priority_comes_from_header_then_routes_and_reaches_the_handler() -> None:
    app = SheddingMiddleware(echo_budget, routes={"/admin": "low", "/pay": "critical"})
    assert request(app, "/pay/1").json()["priority"] == "critical"
    assert request(app, "/admin/report").json()["priority"] == "low"
    assert request(app, "/other").json()["priority"] is None  # normal: the default, not set
    assert (
        request(app, "/admin", headers={"X-Request-Priority": "HIGH"}).json()["priority"] == "high"
    )
    bad = request(app, headers={"X-Request-Priority": "urgent"})
    assert bad.status_code == 400
    assert "critical, high, normal, low" in bad.json()["detail"]


def test_health_probes() -> None:
    health = Health()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("probes never reach the app")

    wrapped = HealthMiddleware(app, health=health)
    assert request(wrapped, "/livez").status_code == 200
    assert request(wrapped, "/startupz").status_code == 503
    assert request(wrapped, "/readyz").status_code == 503
    health.mark_started()
    assert request(wrapped, "/readyz").text == "ok\n"
    health.add_check("db", lambda: True)

    async def slow_check() -> bool:
        await asyncio.sleep(5)
        return True

    health.add_check("cache", slow_check, timeout=0.01)
    verbose = request(wrapped, "/readyz?verbose")
    assert verbose.status_code == 503
    checks = verbose.json()["checks"]
    assert checks["db"]["ok"] is True
    assert checks["cache"]["ok"] is False
    assert "timed out" in checks["cache"]["detail"]
    assert request(wrapped, "/livez").status_code == 200  # liveness never checks downstreams


def test_draining_fails_readiness_at_once() -> None:
    health = Health(started=True)
    wrapped = HealthMiddleware(echo_budget, health=health)
    assert request(wrapped, "/readyz").status_code == 200
    health.start_draining()
    response = request(wrapped, "/readyz?verbose")
    assert response.status_code == 503
    assert response.json()["draining"] is True


def test_x_degraded_names_the_parts_left_out() -> None:
    async def page(scope: Any, receive: Any, send: Any) -> None:
        async def product() -> str:
            return "shoe"

        async def recommendations() -> list[str]:
            raise ConnectionError("recs down")

        result = await seawall.partial(
            {"product": product, "recommendations": seawall.optional(recommendations, default=[])}
        )
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": json.dumps(dict(result)).encode()})

    response = request(DegradedMiddleware(page))
    assert response.status_code == 200
    assert response.headers["x-degraded"] == "recommendations"
    assert response.json() == {"product": "shoe", "recommendations": []}
    assert "x-degraded" not in request(DegradedMiddleware(echo_budget)).headers


def test_protect_composes_every_edge() -> None:
    app = seawall.http.protect(echo_budget, maximum=2.0, idempotency=False)
    response = request(
        app, "/", headers={"X-Request-Timeout-Ms": "9000", "X-Request-Priority": "high"}
    )
    assert response.json()["priority"] == "high"
    assert response.json()["remaining"] <= 2.0
    assert request(app, "/readyz").status_code == 200
    assert request(app, "/", headers={"X-Request-Timeout-Ms": "x"}).status_code == 400


HEADER_NAMES = st.sampled_from(
    ["x-request-timeout-ms", "grpc-timeout", "x-envoy-expected-rq-timeout-ms", "x-request-priority"]
)
HEADER_VALUES = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=24)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(HEADER_NAMES, HEADER_VALUES, max_size=4))
def test_fuzzed_headers_get_400_or_are_served_never_500(headers: dict[str, str]) -> None:
    app = seawall.http.protect(echo_budget, idempotency=False)
    response = request(app, "/", headers=headers)
    assert response.status_code in (200, 400, 504), response.text
    if response.status_code == 400:
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["detail"]


KEYED_HEADER_NAMES = st.sampled_from(
    ["x-request-timeout-ms", "grpc-timeout", "x-request-priority", "idempotency-key"]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(KEYED_HEADER_NAMES, HEADER_VALUES, max_size=4), st.binary(max_size=64))
def test_fuzzed_headers_on_keyed_posts_get_400_or_are_served_never_500(
    headers: dict[str, str], body: bytes
) -> None:
    app = seawall.http.protect(echo_budget, idempotency=MemoryStore())

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.post("/orders", headers=headers, content=body)

    response = asyncio.run(go())
    assert response.status_code in (200, 400, 504), response.text
    if response.status_code == 400:
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["detail"]
