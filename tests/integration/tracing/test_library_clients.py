"""requests and aiohttp send the attempt's traceparent to a real uvicorn under protect()."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

import seawall
import seawall.http
import seawall.metrics
from tests.integration.conftest import ThreadedUvicorn


async def _flaky(scope: Any, receive: Any, send: Any) -> None:
    """503 to the first attempt of each request, 200 to the next."""
    attempt = dict(scope["headers"]).get(b"x-request-attempt", b"1")
    status = 503 if attempt == b"1" else 200
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    app = seawall.http.protect(_flaky, idempotency=False)
    with ThreadedUvicorn(app) as url:
        yield url


@pytest.fixture
def provider() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    seawall.metrics.instrument(tracer_provider=provider)
    try:
        yield provider, exporter
    finally:
        seawall.metrics.uninstrument()


def _check(exporter: InMemorySpanExporter) -> None:
    # A server span ends just after its response went out: wait for the server thread.
    deadline = time.monotonic() + 5.0
    while True:
        spans = exporter.get_finished_spans()
        if sum(s.kind is SpanKind.SERVER for s in spans) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    clients = sorted(
        (s for s in spans if s.kind is SpanKind.CLIENT), key=lambda s: s.start_time or 0
    )
    assert [c.attributes["http.request.resend_count"] for c in clients] == [0, 1]  # type: ignore[index]
    assert [c.attributes["http.response.status_code"] for c in clients] == [503, 200]  # type: ignore[index]
    servers = {s.parent.span_id: s for s in spans if s.kind is SpanKind.SERVER and s.parent}
    assert [
        servers[c.context.span_id].attributes["http.response.status_code"] for c in clients
    ] == [  # type: ignore[index]
        503,
        200,
    ]


def test_requests_attempts_are_client_spans_with_server_spans_under_them(
    server: str, provider: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    import seawall.requests

    tracer_provider, exporter = provider
    with seawall.requests.Session(backoff=seawall.Backoff.constant(0.01)) as session:
        with tracer_provider.get_tracer("test").start_as_current_span("root"):
            assert session.get(f"{server}/x", timeout=5).status_code == 200
    _check(exporter)


def test_aiohttp_attempts_are_client_spans_with_server_spans_under_them(
    server: str, provider: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    import seawall.aiohttp

    tracer_provider, exporter = provider

    async def main() -> int:
        async with seawall.aiohttp.ClientSession(backoff=seawall.Backoff.constant(0.01)) as s:
            with tracer_provider.get_tracer("test").start_as_current_span("root"):
                async with s.get(f"{server}/x") as response:
                    return response.status

    assert asyncio.run(main()) == 200
    _check(exporter)
