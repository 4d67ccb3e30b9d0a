"""What the gRPC edges show: per-target policies under the client's name, the RPC
duration histograms on a real grpcio server, and plain handlers under grpc.aio."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
import grpc.aio
import pytest

import seawall
import seawall.grpc
from seawall._durations import RPC_CLIENT, RPC_SERVER
from seawall.metrics._exposition import render
from seawall.metrics._json import snapshot_json

pytestmark = pytest.mark.integration

SERVICE = "seawall.observed.Echo"


def _echo(request: bytes, context: grpc.ServicerContext) -> bytes:
    if request == b"fail":
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, "asked to fail")
    if request == b"unavailable":
        context.abort(grpc.StatusCode.UNAVAILABLE, "asked to be unavailable")
    return request


def _handlers() -> grpc.GenericRpcHandler:
    return grpc.method_handlers_generic_handler(
        SERVICE, {"Say": grpc.unary_unary_rpc_method_handler(_echo)}
    )


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """A real sync grpcio server behind seawall's server interceptor, on 127.0.0.1."""
    pool = futures.ThreadPoolExecutor(max_workers=4)
    served = grpc.server(pool, interceptors=[seawall.grpc.server_interceptor()])
    served.add_generic_rpc_handlers((_handlers(),))
    port = served.add_insecure_port("127.0.0.1:0")
    served.start()
    yield f"127.0.0.1:{port}"
    served.stop(None).wait(5)
    pool.shutdown(wait=True)


def _count(rows: Any, **labels: Any) -> int:
    return sum(
        series.count
        for key, series in rows.items()
        if all(dict(zip(rows.labels, key, strict=True))[k] == v for k, v in labels.items())
    )


def test_policies_are_named_by_the_client_and_labelled_by_target(server: str) -> None:
    with seawall.grpc.channel(server, name="ledger", attempts=2) as channel:
        say = channel.unary_unary(f"/{SERVICE}/Say")
        assert say(b"hi") == b"hi"
        with pytest.raises(grpc.RpcError):
            say(b"unavailable")  # retried once: UNAVAILABLE is transient
        policies = channel.policies(server)
        assert channel.policies() == policies
        with pytest.raises(KeyError):
            channel.policies("elsewhere:1")
    assert (policies.name, policies.target) == ("ledger", server)
    assert policies.retry.calls_success_first_try == 1
    assert policies.retry.calls_failed_after_retry == 1
    names = {(p.name, p.target, p.kind) for p in seawall.snapshot(policies.pipeline).policies}
    assert names == {
        ("ledger", server, "retry"),
        ("ledger", server, "circuit_breaker"),
        ("ledger", server, "bulkhead"),
    }
    text = render().decode()
    assert f'seawall_retry_calls_total{{name="ledger",target="{server}",outcome=' in text
    (interceptor,) = seawall.grpc.client_interceptors(server, name="ledger")
    assert interceptor.policies(server).name == "ledger"


def test_rpc_durations_count_every_attempt_and_call_by_method_and_code(server: str) -> None:
    before_client = _count(RPC_CLIENT, name="durations", method="Say")
    before_ok = _count(RPC_SERVER, service=SERVICE, method="Say", status=0)
    before_bad = _count(RPC_SERVER, service=SERVICE, method="Say", status=3)
    with seawall.grpc.channel(server, name="durations", attempts=1) as channel:
        say = channel.unary_unary(f"/{SERVICE}/Say")
        for _ in range(3):
            say(b"ok")
        with pytest.raises(grpc.RpcError):
            say(b"fail")
    assert _count(RPC_CLIENT, name="durations", target=server, method="Say") - before_client == 4
    assert _count(RPC_CLIENT, name="durations", service=SERVICE, status=3) == 1
    assert _count(RPC_SERVER, service=SERVICE, method="Say", status=0) - before_ok >= 3
    assert _count(RPC_SERVER, service=SERVICE, method="Say", status=3) - before_bad == 1

    text = render().decode()
    assert "# TYPE rpc_server_duration_milliseconds histogram" in text
    assert "# TYPE rpc_client_duration_milliseconds histogram" in text
    assert (
        f'rpc_client_duration_milliseconds_count{{name="durations",target="{server}",'
        f'rpc_system="grpc",rpc_service="{SERVICE}",rpc_method="Say",'
        f'rpc_grpc_status_code="3"}} 1.0'
    ) in text
    assert 'rpc_method="Say",rpc_grpc_status_code="0",le="5.0"}' in text
    rows = snapshot_json()["rpc"]
    assert rows["unit"] == "ms"
    assert any(r["name"] == "durations" and r["status"] == 3 for r in rows["client"])


def test_aio_server_runs_plain_def_handlers_inside_its_scopes() -> None:
    seen: list[float | None] = []

    def plain(request: bytes, context: Any) -> bytes:
        seen.append(seawall.remaining())
        return request.upper()

    def plain_stream(request: bytes, context: Any) -> Iterator[bytes]:
        seen.append(seawall.remaining())
        yield request
        yield request.upper()

    async def main() -> tuple[bytes, list[bytes]]:
        server = grpc.aio.server(interceptors=[seawall.grpc.aio_server_interceptor()])
        server.add_generic_rpc_handlers(
            (
                grpc.method_handlers_generic_handler(
                    SERVICE,
                    {
                        "Plain": grpc.unary_unary_rpc_method_handler(plain),
                        "Stream": grpc.unary_stream_rpc_method_handler(plain_stream),
                    },
                ),
            )
        )
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                one = await channel.unary_unary(f"/{SERVICE}/Plain")(b"hi", timeout=5.0)
                many = [
                    item
                    async for item in channel.unary_stream(f"/{SERVICE}/Stream")(b"ho", timeout=5.0)
                ]
        finally:
            await server.stop(None)
        return one, many

    one, many = asyncio.run(main())
    assert one == b"HI"
    assert many == [b"ho", b"HO"]
    assert len(seen) == 2
    assert all(left is not None and 0.0 < left < 6.0 for left in seen), seen
