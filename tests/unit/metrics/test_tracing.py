"""Spans on virtual time: a span per call, one per attempt, decisions as span events."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import SpanKind, StatusCode

import seawall
import seawall.http
import seawall.metrics
from seawall import _drive, _durations
from seawall.testing import FakeClock


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    seawall.metrics.instrument(tracer_provider=provider)
    try:
        yield exporter
    finally:
        seawall.metrics.uninstrument()


def _root(exporter: InMemorySpanExporter) -> Any:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("test").start_as_current_span("root")


def _children(spans: tuple[ReadableSpan, ...], parent: ReadableSpan) -> list[ReadableSpan]:
    found = [
        s for s in spans if s.parent is not None and s.parent.span_id == parent.context.span_id
    ]
    return sorted(found, key=lambda s: s.start_time or 0)


def _named(spans: tuple[ReadableSpan, ...], name: str) -> ReadableSpan:
    (span,) = [s for s in spans if s.name == name]
    return span


def _flaky(failures: int) -> Any:
    calls = [0]

    def call() -> str:
        calls[0] += 1
        if calls[0] <= failures:
            raise ConnectionError(f"reset {calls[0]}")
        return "ok"

    return call


def _quick(clock: FakeClock) -> seawall.StandardPipeline:
    return seawall.standard("payments", clock=clock, backoff=seawall.Backoff.constant(1.0))


def test_a_call_is_a_span_with_one_child_per_attempt_and_retries_as_events(
    exporter: InMemorySpanExporter,
) -> None:
    clock = FakeClock()
    with _root(exporter):
        assert _quick(clock).call(_flaky(2)) == "ok"
    spans = exporter.get_finished_spans()
    root = _named(spans, "root")
    (call,) = _children(spans, root)
    assert (call.name, call.kind) == ("seawall payments", SpanKind.INTERNAL)
    attempts = _children(spans, call)
    assert [a.attributes["seawall.attempt"] for a in attempts] == [1, 2, 3]  # type: ignore[index]
    assert [a.kind for a in attempts] == [SpanKind.INTERNAL] * 3
    assert [a.attributes.get("error.type") for a in attempts] == [  # type: ignore[union-attr]
        "ConnectionError",
        "ConnectionError",
        None,
    ]
    # Retried failures are not errors: the call succeeded.
    assert {s.status.status_code for s in spans} == {StatusCode.UNSET}
    scheduled = [e for e in call.events if e.name == "seawall.retry.scheduled"]
    assert [e.attributes["seawall.retry.delay"] for e in scheduled] == [1.0, 1.0]  # type: ignore[index]
    assert [e.attributes["seawall.attempt"] for e in scheduled] == [1, 2]  # type: ignore[index]
    assert clock.now() == pytest.approx(2.0)  # the two backoffs, on virtual time


def test_only_the_final_failure_is_an_error(exporter: InMemorySpanExporter) -> None:
    clock = FakeClock()
    with _root(exporter), pytest.raises(ConnectionError, match="reset 3"):
        _quick(clock).call(_flaky(5))
    spans = exporter.get_finished_spans()
    call = _named(spans, "seawall payments")
    attempts = _children(spans, call)
    assert [a.status.status_code for a in attempts] == [
        StatusCode.UNSET,
        StatusCode.UNSET,
        StatusCode.ERROR,
    ]
    assert call.status.status_code is StatusCode.ERROR
    assert call.attributes["error.type"] == "ConnectionError"  # type: ignore[index]
    assert [e.name for e in call.events] == [
        "seawall.retry.scheduled",
        "seawall.retry.scheduled",
        "seawall.retry.refused",
    ]
    assert call.events[-1].attributes["seawall.retry.reason"] == "attempts"  # type: ignore[index]
    # An attempt that failed ends when it failed, not when the next one started.
    assert attempts[0].end_time is not None
    assert attempts[1].start_time is not None
    assert attempts[0].end_time <= attempts[1].start_time


def test_a_breaker_rejection_is_an_event_and_the_call_the_error(
    exporter: InMemorySpanExporter,
) -> None:
    pipeline = seawall.standard("payments", clock=FakeClock())
    pipeline.breaker.force_open()
    with _root(exporter), pytest.raises(seawall.CircuitOpen):
        pipeline.call(_flaky(0))
    spans = exporter.get_finished_spans()
    call = _named(spans, "seawall payments")
    assert _children(spans, call) == []  # nothing was attempted
    assert [e.name for e in call.events] == [
        "seawall.circuit_breaker.rejected",
        "seawall.retry.refused",
    ]
    assert call.status.status_code is StatusCode.ERROR


def test_breaker_opening_bulkhead_rejection_and_fallback_are_events(
    exporter: InMemorySpanExporter,
) -> None:
    clock = FakeClock()
    breaker = seawall.CircuitBreaker("inventory", min_calls=1, clock=clock)
    with _root(exporter), pytest.raises(ConnectionError):
        breaker.call(_flaky(1))
    assert [e.name for e in _named(exporter.get_finished_spans(), "seawall inventory").events] == [
        "seawall.circuit_breaker.state_changed"
    ]
    exporter.clear()

    bulkhead = seawall.Bulkhead("db", max_concurrent=1, max_queue=0, clock=clock)
    with _root(exporter), pytest.raises(seawall.BulkheadFull):
        bulkhead.call(lambda: bulkhead.call(lambda: None))
    inner = [s for s in exporter.get_finished_spans() if s.name == "seawall db"]
    assert [[e.name for e in s.events] for s in inner] == [["seawall.bulkhead.rejected"], []]
    exporter.clear()

    fallback = seawall.Pipeline(
        seawall.Fallback(value="cached", name="prices", clock=clock),
        seawall.Timeout(1.0, clock=clock),
    )
    with _root(exporter):
        assert fallback.call(_flaky(1)) == "cached"
    call = _named(exporter.get_finished_spans(), "seawall prices")
    assert [e.name for e in call.events] == ["seawall.fallback.used"]
    assert call.status.status_code is StatusCode.UNSET  # the fallback answered


def test_async_calls_have_the_same_tree(exporter: InMemorySpanExporter) -> None:
    clock = FakeClock()
    flaky = _flaky(1)

    async def call() -> str:
        await asyncio.sleep(0)
        return flaky()  # type: ignore[no-any-return]

    async def main() -> str:
        with _root(exporter):
            return await _quick(clock).acall(call)

    assert asyncio.run(main()) == "ok"
    spans = exporter.get_finished_spans()
    call_span = _named(spans, "seawall payments")
    assert len(_children(spans, call_span)) == 2
    assert [e.name for e in call_span.events] == ["seawall.retry.scheduled"]


def test_no_spans_outside_a_recording_span_or_before_install() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    clock = FakeClock()
    assert _drive.tracing.spans is None  # the driver's one check, before install
    with provider.get_tracer("t").start_as_current_span("root"):
        assert _quick(clock).call(_flaky(1)) == "ok"
    assert [s.name for s in exporter.get_finished_spans()] == ["root"]
    exporter.clear()

    seawall.metrics.instrument(tracer_provider=provider)
    try:
        assert _quick(clock).call(_flaky(1)) == "ok"  # no span in effect: no spans
        dropped = TracerProvider(sampler=ALWAYS_OFF)
        with dropped.get_tracer("t").start_as_current_span("sampled out"):
            assert _quick(clock).call(_flaky(1)) == "ok"
        assert exporter.get_finished_spans() == ()
    finally:
        seawall.metrics.uninstrument()
    with provider.get_tracer("t").start_as_current_span("root"):
        assert _quick(clock).call(_flaky(1)) == "ok"
    assert [s.name for s in exporter.get_finished_spans()] == ["root"]


async def _app(scope: Any, receive: Any, send: Any) -> None:
    status = 503 if b"fail" in scope.get("query_string", b"") else 200
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


def test_client_attempts_carry_traceparent_to_a_server_span(
    exporter: InMemorySpanExporter,
) -> None:
    app = seawall.http.protect(_app, idempotency=False)

    async def main() -> int:
        inner = httpx.ASGITransport(app=app)
        async with seawall.http.AsyncClient(
            transport=inner, backoff=seawall.Backoff.constant(0.001), retry_budget=False
        ) as client:
            with _root(exporter):
                response = await client.get("http://svc.test:8080/items?fail=1")
        return response.status_code

    assert asyncio.run(main()) == 503
    spans = exporter.get_finished_spans()
    call = _named(spans, "seawall http://svc.test:8080")
    attempts = _children(spans, call)
    assert [a.kind for a in attempts] == [SpanKind.CLIENT] * 3
    assert [a.name for a in attempts] == ["GET"] * 3
    assert [a.attributes["http.request.resend_count"] for a in attempts] == [0, 1, 2]  # type: ignore[index]
    assert attempts[0].attributes == {
        "http.request.resend_count": 0,
        "http.request.method": "GET",
        "url.full": "http://svc.test:8080/items?fail=1",
        "server.address": "svc.test",
        "server.port": 8080,
        "http.response.status_code": 503,
        "error.type": "503",
    }
    assert [a.status.status_code for a in attempts] == [
        StatusCode.UNSET,
        StatusCode.UNSET,
        StatusCode.ERROR,
    ]
    servers = [s for a in attempts for s in _children(spans, a)]
    assert [(s.kind, s.name) for s in servers] == [(SpanKind.SERVER, "GET")] * 3
    assert all(s.context.trace_id == call.context.trace_id for s in servers)
    assert servers[0].attributes["http.response.status_code"] == 503  # type: ignore[index]


TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def test_a_traced_request_is_timed_once(exporter: InMemorySpanExporter) -> None:
    _durations.SERVER.clear()
    app = seawall.http.protect(_app, idempotency=False)

    async def main() -> int:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/items", headers={"traceparent": TRACEPARENT})
        return response.status_code

    assert asyncio.run(main()) == 200
    assert [s.kind for s in exporter.get_finished_spans()] == [SpanKind.SERVER]
    assert [(r["method"], r["status"], r["count"]) for r in _durations.SERVER.rows()] == [
        ("GET", 200, 1)
    ]


def test_a_shed_request_is_an_event_on_its_server_span(exporter: InMemorySpanExporter) -> None:
    gate = asyncio.Event()

    async def slow(scope: Any, receive: Any, send: Any) -> None:
        if scope["path"] == "/slow":
            await gate.wait()
        await _app(scope, receive, send)

    shedder = seawall.LoadShedder("front", limit=1, max_queue=0)
    app = seawall.http.protect(slow, shedder=shedder, idempotency=False)

    async def go() -> int:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            held = asyncio.create_task(client.get("/slow", headers={"X-Request-Priority": "low"}))
            await asyncio.sleep(0.01)
            shed = await client.get(
                "/x", headers={"X-Request-Priority": "low", "traceparent": TRACEPARENT}
            )
            gate.set()
            await held
            return shed.status_code

    assert asyncio.run(go()) == 503
    (server,) = [
        s
        for s in exporter.get_finished_spans()
        if s.attributes.get("url.path") == "/x"  # type: ignore[union-attr]
    ]
    assert server.kind is SpanKind.SERVER
    assert server.parent is not None
    assert f"{server.parent.span_id:016x}" == "b7ad6b7169203331"
    assert f"{server.context.trace_id:032x}" == "0af7651916cd43dd8448eb211c80319c"
    assert [e.name for e in server.events] == ["seawall.load_shedder.shed"]
    assert server.events[0].attributes["seawall.policy.name"] == "front"  # type: ignore[index]
    assert server.status.status_code is StatusCode.ERROR  # a 503 is the server's failure


def test_the_wsgi_edge_serves_in_a_server_span_under_the_callers_context(
    exporter: InMemorySpanExporter,
) -> None:
    import seawall.wsgi

    def hello(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("201 Created", [("Content-Type", "text/plain")])
        return [b"made"]

    app = seawall.wsgi.protect(hello, idempotency=False)
    statuses: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        statuses.append(status)

    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/orders",
        "wsgi.url_scheme": "http",
        "HTTP_TRACEPARENT": TRACEPARENT,
    }
    body = b"".join(app(environ, start_response))
    assert (body, statuses) == (b"made", ["201 Created"])
    (server,) = exporter.get_finished_spans()
    assert (server.kind, server.name) == (SpanKind.SERVER, "POST")
    assert server.attributes["http.response.status_code"] == 201  # type: ignore[index]
    assert server.parent is not None
    assert f"{server.parent.span_id:016x}" == "b7ad6b7169203331"
    assert server.status.status_code is StatusCode.UNSET


def test_a_request_sent_outside_an_attempt_carries_context_but_renames_no_span(
    exporter: InMemorySpanExporter,
) -> None:
    edge = seawall.http.Transport()._edge
    headers: dict[str, str] = {}
    with _root(exporter) as root:
        edge.shape(headers, "POST", "http://svc.test/stream")
    (span,) = exporter.get_finished_spans()
    assert span.name == "root"
    assert "http.request.method" not in (span.attributes or {})
    assert headers["traceparent"].split("-")[2] == f"{root.get_span_context().span_id:016x}"


def test_import_seawall_imports_no_opentelemetry() -> None:
    import subprocess
    import sys

    code = (
        "import sys, seawall, seawall.http, seawall.requests, seawall.wsgi; "
        "print(any(m.startswith('opentelemetry') for m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
