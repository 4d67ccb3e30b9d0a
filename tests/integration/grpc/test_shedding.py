"""Priority shedding on a real grpcio server: RESOURCE_EXHAUSTED with retry pushback."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest

import seawall
import seawall.grpc

pytestmark = pytest.mark.integration

METHOD = "/seawall.test.Shed/Call"


@pytest.fixture
def busy_server() -> Iterator[tuple[str, threading.Event, threading.Event]]:
    """A server admitting 2 calls by priority; its handler blocks until released."""
    entered, release = threading.Event(), threading.Event()

    def handle(request: bytes, context: Any) -> bytes:
        entered.set()
        release.wait(5.0)
        return (seawall.current_priority() or "normal").encode()

    shedder = seawall.LoadShedder("shed-test", limit=2, max_queue=0)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=8),
        interceptors=[seawall.grpc.server_interceptor(shedder=shedder)],
    )
    handler = grpc.method_handlers_generic_handler(
        "seawall.test.Shed", {"Call": grpc.unary_unary_rpc_method_handler(handle)}
    )
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}", entered, release
    finally:
        release.set()
        server.stop(None).wait(5)


def test_low_priority_is_shed_with_pushback_and_high_is_served(
    busy_server: tuple[str, threading.Event, threading.Event],
) -> None:
    target, entered, release = busy_server
    with grpc.insecure_channel(target, options=seawall.grpc.NO_RETRIES) as channel:
        call = channel.unary_unary(METHOD)
        held = call.future(b"", metadata=(("x-request-priority", "normal"),), timeout=5.0)
        assert entered.wait(5.0)
        with pytest.raises(grpc.RpcError) as shed:
            call(b"", metadata=(("x-request-priority", "low"),), timeout=5.0)
        assert shed.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        pushback = seawall.grpc.parse_pushback(shed.value.trailing_metadata())
        assert pushback is not None
        assert pushback > 0
        # a malformed priority counts as the default (normal): shed too, not a crash
        with pytest.raises(grpc.RpcError) as bad:
            call(b"", metadata=(("x-request-priority", "urgent!!"),), timeout=5.0)
        assert bad.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        high = call.future(b"", metadata=(("x-request-priority", "high"),), timeout=5.0)
        release.set()
        assert high.result() == b"high"
        assert held.result() == b"normal"
