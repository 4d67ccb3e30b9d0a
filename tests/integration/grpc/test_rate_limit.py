"""Rate limits on a real grpcio server: RESOURCE_EXHAUSTED with the exact pushback."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest

import seawall
import seawall.grpc
from seawall.testing import FakeClock

pytestmark = pytest.mark.integration

METHOD = "/seawall.test.Quota/Call"


def _tenant(context: Any) -> str:
    return dict(context.invocation_metadata()).get("x-tenant", "-")


@pytest.fixture
def limited_server() -> Iterator[tuple[str, FakeClock]]:
    """A server holding each tenant to 2 calls/s (burst 2) on a clock the test moves."""
    clock = FakeClock()
    limiter = seawall.RateLimiter("grpc", rate=2.0, burst=2, clock=clock)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=4),
        interceptors=[seawall.grpc.server_interceptor(rate_limit=limiter, rate_limit_key=_tenant)],
    )
    handler = grpc.method_handlers_generic_handler(
        "seawall.test.Quota", {"Call": grpc.unary_unary_rpc_method_handler(lambda r, c: b"ok")}
    )
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}", clock
    finally:
        server.stop(None).wait(5)


def test_an_over_quota_caller_gets_resource_exhausted_with_pushback(
    limited_server: tuple[str, FakeClock],
) -> None:
    target, clock = limited_server
    with grpc.insecure_channel(target, options=seawall.grpc.NO_RETRIES) as channel:
        call = channel.unary_unary(METHOD)
        noisy = (("x-tenant", "noisy"),)
        assert call(b"", metadata=noisy, timeout=5.0) == b"ok"
        assert call(b"", metadata=noisy, timeout=5.0) == b"ok"
        clock.advance(0.2)
        with pytest.raises(grpc.RpcError) as refused:
            call(b"", metadata=noisy, timeout=5.0)
        assert refused.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        trailing = dict(refused.value.trailing_metadata())
        assert seawall.grpc.parse_pushback(refused.value.trailing_metadata()) == pytest.approx(0.3)
        assert trailing["ratelimit"] == '"grpc";r=0;t=1'
        assert trailing["ratelimit-policy"] == '"grpc";q=2;w=1;seawall-burst=2'
        # Another tenant is unaffected; the noisy one passes once the pushback is over.
        assert call(b"", metadata=(("x-tenant", "quiet"),), timeout=5.0) == b"ok"
        clock.advance(0.3)
        assert call(b"", metadata=noisy, timeout=5.0) == b"ok"


def test_rate_limit_arguments_are_checked() -> None:
    with pytest.raises(seawall.ConfigError, match="rate_limit must be"):
        seawall.grpc.server_interceptor(rate_limit=5)  # type: ignore[arg-type]
    with pytest.raises(seawall.ConfigError, match="rate_limit_key= applies"):
        seawall.grpc.aio_server_interceptor(rate_limit_key=_tenant)
