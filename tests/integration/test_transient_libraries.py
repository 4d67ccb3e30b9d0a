"""Every HTTP library's real network errors are retried under ``standard()``.

Each library calls a loopback port that refuses connections, a socket that accepts and
never answers, and one that reads the request and closes; each library's own timeout is
0.2 s. ``standard()`` must try every one of them three times (backoff sleeps run on a
FakeClock), and re-raise the library's own error with the note saying why it stopped.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import grpc
import httpx
import pytest
import requests
import urllib3

import seawall
from seawall.testing import FakeClock
from tests.integration.sockets import FaultServer, refused_port

LIBRARY_TIMEOUT = 0.2


def _requests(url: str) -> None:
    requests.get(url, timeout=LIBRARY_TIMEOUT)


def _urllib3_once(url: str) -> None:
    # retries=0: urllib3 still wraps the failure in MaxRetryError, which is unwrapped.
    urllib3.PoolManager().request("GET", url, timeout=LIBRARY_TIMEOUT, retries=0)


def _urllib3_default(url: str) -> None:
    # urllib3's own default: 3 retries of its own, then MaxRetryError.
    urllib3.PoolManager().request("GET", url, timeout=LIBRARY_TIMEOUT)


def _httpx(url: str) -> None:
    httpx.get(url, timeout=LIBRARY_TIMEOUT)


async def _aiohttp(url: str) -> None:
    timeout = aiohttp.ClientTimeout(
        total=None, sock_connect=LIBRARY_TIMEOUT, sock_read=LIBRARY_TIMEOUT
    )
    async with aiohttp.ClientSession(timeout=timeout) as session:
        async with session.get(url) as response:
            await response.read()


SYNC: dict[str, tuple[Callable[[str], None], type[BaseException]]] = {
    "requests": (_requests, requests.RequestException),
    "urllib3": (_urllib3_once, urllib3.exceptions.MaxRetryError),
    "httpx": (_httpx, httpx.TransportError),
}


def _standard(name: str) -> seawall.StandardPipeline:
    return seawall.standard(name, clock=FakeClock(), rng=random.Random(0))


def _counted(fn: Callable[[str], Any]) -> tuple[Callable[[str], Any], list[int]]:
    calls: list[int] = []

    def counted(url: str) -> Any:
        calls.append(1)
        return fn(url)

    return counted, calls


def _gave_up(exc: BaseException) -> None:
    assert "gave up after 3 attempts" in " ".join(getattr(exc, "__notes__", [])), exc


@pytest.mark.parametrize("library", sorted(SYNC))
def test_a_refused_connection_is_retried(library: str) -> None:
    call, error = SYNC[library]
    counted, calls = _counted(call)
    with refused_port() as port, pytest.raises(error) as info:
        _standard(library).call(counted, f"http://127.0.0.1:{port}/")
    assert len(calls) == 3
    _gave_up(info.value)


def test_urllib3s_own_retries_end_in_a_max_retry_error_that_is_unwrapped() -> None:
    counted, calls = _counted(_urllib3_default)
    with refused_port() as port, pytest.raises(urllib3.exceptions.MaxRetryError) as info:
        _standard("urllib3").call(counted, f"http://127.0.0.1:{port}/")
    assert isinstance(info.value.reason, urllib3.exceptions.NewConnectionError)
    assert len(calls) == 3


@pytest.mark.parametrize("library", sorted(SYNC))
@pytest.mark.parametrize("fault", ["hanging_server", "dropping_server"])
def test_a_hanging_or_dropped_connection_is_retried(
    library: str, fault: str, request: pytest.FixtureRequest
) -> None:
    server: FaultServer = request.getfixturevalue(fault)
    call, error = SYNC[library]
    before = len(server.requests)
    with pytest.raises(error) as info:
        _standard(library).call(call, f"{server.url}/{library}")
    assert len(server.requests) - before == 3  # three real requests reached the socket
    _gave_up(info.value)


def _run_async(fn: Callable[[str], Awaitable[None]], url: str) -> BaseException:
    async def main() -> BaseException:
        try:
            await _standard("aiohttp").acall(fn, url)
        except Exception as exc:
            return exc
        raise AssertionError("the call did not fail")

    return asyncio.run(main())


def test_aiohttp_refused_connection_is_retried() -> None:
    counted_calls: list[int] = []

    async def counted(url: str) -> None:
        counted_calls.append(1)
        await _aiohttp(url)

    with refused_port() as port:
        exc = _run_async(counted, f"http://127.0.0.1:{port}/")
    assert isinstance(exc, aiohttp.ClientConnectorError)
    assert len(counted_calls) == 3
    _gave_up(exc)


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("hanging_server", aiohttp.ServerTimeoutError),
        ("dropping_server", aiohttp.ServerDisconnectedError),
    ],
)
def test_aiohttp_hanging_or_dropped_connection_is_retried(
    fault: str, error: type[BaseException], request: pytest.FixtureRequest
) -> None:
    server: FaultServer = request.getfixturevalue(fault)
    calls: list[int] = []

    async def counted(url: str) -> None:
        calls.append(1)
        await _aiohttp(url)

    before = len(server.requests)
    exc = _run_async(counted, f"{server.url}/aiohttp")
    assert isinstance(exc, error)
    assert len(calls) == 3
    # aiohttp itself sends an idempotent request once more when the server disconnects.
    assert len(server.requests) - before >= 3
    _gave_up(exc)


def test_grpc_unavailable_on_a_refused_channel_is_retried() -> None:
    calls: list[grpc.StatusCode] = []

    def ping(target: str) -> bytes:
        with grpc.insecure_channel(target) as channel:
            try:
                return bytes(channel.unary_unary("/seawall.Test/Ping")(b"", timeout=0.3))
            except grpc.RpcError as exc:
                calls.append(exc.code())  # type: ignore[attr-defined]
                raise

    with refused_port() as port, pytest.raises(grpc.RpcError) as info:
        _standard("grpc").call(ping, f"127.0.0.1:{port}")
    assert calls == [grpc.StatusCode.UNAVAILABLE] * 3
    _gave_up(info.value)
