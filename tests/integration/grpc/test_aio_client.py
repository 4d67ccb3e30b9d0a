"""The grpc.aio client edge against real sockets: errors and the breaker reach the caller."""

from __future__ import annotations

import asyncio
import socket

import grpc
import pytest

import seawall
import seawall.grpc

pytestmark = pytest.mark.integration


def test_an_unreachable_target_opens_its_breaker() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        target = f"127.0.0.1:{s.getsockname()[1]}"

    async def main() -> list[BaseException]:
        failures: list[BaseException] = []
        channel = seawall.grpc.aio_channel(target, attempts=1, min_calls=1)
        call = channel.unary_unary("/seawall.test.Node/Call")
        for _ in range(2):
            try:
                await call(b"")
            except (grpc.aio.AioRpcError, seawall.Rejected) as exc:
                failures.append(exc)
        await channel.close()
        return failures

    first, second = asyncio.run(main())
    assert isinstance(first, grpc.aio.AioRpcError)
    assert first.code() is grpc.StatusCode.UNAVAILABLE
    assert isinstance(second, seawall.CircuitOpen)
