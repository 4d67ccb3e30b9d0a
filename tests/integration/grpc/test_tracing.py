"""Trace context over real grpcio on 127.0.0.1: CLIENT attempt spans, SERVER spans under them."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import seawall
import seawall.grpc
import seawall.metrics

METHOD = "/seawall.test.Traced/Call"


@pytest.fixture
def traced() -> Iterator[tuple[InMemorySpanExporter, TracerProvider]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    seawall.metrics.instrument(tracer_provider=provider)
    try:
        yield exporter, provider
    finally:
        seawall.metrics.uninstrument()


@pytest.fixture
def server() -> Iterator[tuple[str, list[int]]]:
    """A flaky unary method: UNAVAILABLE while the request's count is not spent."""
    failures = [0]

    def call(request: bytes, context: grpc.ServicerContext) -> bytes:
        if failures[0] > 0:
            failures[0] -= 1
            context.abort(grpc.StatusCode.UNAVAILABLE, "flaky")
        return request

    handler = grpc.method_handlers_generic_handler(
        "seawall.test.Traced", {"Call": grpc.unary_unary_rpc_method_handler(call)}
    )
    srv = grpc.server(
        futures.ThreadPoolExecutor(4), interceptors=[seawall.grpc.server_interceptor()]
    )
    srv.add_generic_rpc_handlers((handler,))
    port = srv.add_insecure_port("127.0.0.1:0")
    srv.start()
    try:
        yield f"127.0.0.1:{port}", failures
    finally:
        srv.stop(0).wait(5)


def _children(spans: tuple[ReadableSpan, ...], parent: ReadableSpan) -> list[ReadableSpan]:
    found = [
        s for s in spans if s.parent is not None and s.parent.span_id == parent.context.span_id
    ]
    return sorted(found, key=lambda s: s.start_time or 0)


def test_each_rpc_attempt_is_a_client_span_with_the_server_span_under_it(
    traced: tuple[InMemorySpanExporter, TracerProvider], server: tuple[str, list[int]]
) -> None:
    exporter, provider = traced
    target, failures = server
    failures[0] = 1
    channel = seawall.grpc.channel(target, backoff=seawall.Backoff.constant(0.01))
    try:
        with provider.get_tracer("test").start_as_current_span("root"):
            assert channel.unary_unary(METHOD)(b"hi", timeout=5) == b"hi"
    finally:
        channel.close()
    spans = exporter.get_finished_spans()
    (root,) = [s for s in spans if s.name == "root"]
    (call,) = _children(spans, root)
    attempts = _children(spans, call)
    assert [(a.kind, a.name) for a in attempts] == [(SpanKind.CLIENT, METHOD[1:])] * 2
    attributes: Any = attempts[0].attributes
    assert attributes["rpc.system"] == "grpc"
    assert (attributes["rpc.service"], attributes["rpc.method"]) == ("seawall.test.Traced", "Call")
    assert attributes["server.address"] == "127.0.0.1"
    assert [a.attributes["seawall.attempt"] for a in attempts] == [1, 2]  # type: ignore[index]
    assert [e.name for e in call.events] == ["seawall.retry.scheduled"]
    servers = [s for a in attempts for s in _children(spans, a)]
    assert [s.kind for s in servers] == [SpanKind.SERVER] * 2
    assert servers[0].attributes["rpc.grpc.status_code"] == grpc.StatusCode.UNAVAILABLE.value[0]  # type: ignore[index]
    assert servers[0].status.status_code is StatusCode.ERROR
    assert servers[1].status.status_code is StatusCode.UNSET
    assert all(s.context.trace_id == root.context.trace_id for s in servers)
