"""The transient table: what is retried, per library, and what a breaker counts.

The libraries' own exception classes are used here (built directly where building one
needs no connection); tests/integration/test_transient_libraries.py raises them from real
refused, hanging and dropped connections.
"""

from __future__ import annotations

import random
from typing import Any

import aiohttp
import grpc
import httpx
import pytest
import requests
import urllib3.exceptions
from hypothesis import given
from hypothesis import strategies as st

import seawall
from seawall._transient import dependency_failed, judged, transient, transient_status
from seawall.testing import FakeClock

REQUEST = httpx.Request("GET", "http://127.0.0.1:9/")


def _aiohttp_connector_error() -> aiohttp.ClientConnectorError:
    key: Any = type("Key", (), {"ssl": None, "host": "127.0.0.1", "port": 9})()
    return aiohttp.ClientConnectorError(key, ConnectionRefusedError(111, "refused"))


class _RpcError(grpc.RpcError):
    """A finished gRPC call's error, as grpc's channel raises it: ``.code()`` says why."""

    def __init__(self, code: grpc.StatusCode) -> None:
        self._code = code

    def code(self) -> grpc.StatusCode:
        return self._code


RETRIED = [
    ConnectionRefusedError(),
    ConnectionResetError(),
    BrokenPipeError(),
    TimeoutError(),
    requests.ConnectionError(),
    requests.ConnectTimeout(),
    requests.ReadTimeout(),
    requests.exceptions.ChunkedEncodingError(),
    urllib3.exceptions.NewConnectionError(None, "refused"),  # type: ignore[arg-type]
    urllib3.exceptions.ConnectTimeoutError(),
    urllib3.exceptions.ReadTimeoutError(None, "/", "read timed out"),  # type: ignore[arg-type]
    urllib3.exceptions.ProtocolError("Connection aborted."),
    urllib3.exceptions.MaxRetryError(None, "/", urllib3.exceptions.ProtocolError("reset")),  # type: ignore[arg-type]
    _aiohttp_connector_error(),
    aiohttp.ServerDisconnectedError(),
    aiohttp.ServerTimeoutError(),
    aiohttp.ClientOSError(),
    aiohttp.ClientPayloadError(),
    httpx.ConnectError("refused", request=REQUEST),
    httpx.ReadTimeout("slow", request=REQUEST),
    httpx.RemoteProtocolError("closed", request=REQUEST),
    _RpcError(grpc.StatusCode.UNAVAILABLE),
]

NOT_RETRIED = [
    ValueError(),
    OSError(),
    requests.exceptions.SSLError(),
    requests.exceptions.InvalidURL(),
    urllib3.exceptions.SSLError(),
    urllib3.exceptions.MaxRetryError(None, "/", None),  # type: ignore[arg-type]
    urllib3.exceptions.MaxRetryError(None, "/", urllib3.exceptions.SSLError()),  # type: ignore[arg-type]
    aiohttp.InvalidURL("nope"),
    httpx.UnsupportedProtocol("htp://", request=REQUEST),
    httpx.LocalProtocolError("bad header", request=REQUEST),
    _RpcError(grpc.StatusCode.INVALID_ARGUMENT),
    _RpcError(grpc.StatusCode.DEADLINE_EXCEEDED),
    seawall.CircuitOpen("payments", "open"),
    seawall.BulkheadFull("payments", "full"),
]


@pytest.mark.parametrize("exc", RETRIED, ids=lambda e: type(e).__qualname__)
def test_network_errors_and_timeouts_of_every_library_are_transient(exc: BaseException) -> None:
    assert transient(exc)
    assert seawall.transient(exc)


@pytest.mark.parametrize("exc", NOT_RETRIED, ids=lambda e: type(e).__qualname__)
def test_errors_that_a_retry_cannot_fix_are_not(exc: BaseException) -> None:
    assert not transient(exc)


def _response_error(status: int) -> aiohttp.ClientResponseError:
    return aiohttp.ClientResponseError(None, (), status=status)  # type: ignore[arg-type]


def _requests_http_error(status: int) -> requests.HTTPError:
    response = requests.Response()
    response.status_code = status
    return requests.HTTPError(response=response)


def _httpx_status_error(status: int) -> httpx.HTTPStatusError:
    response = httpx.Response(status, request=REQUEST)
    return httpx.HTTPStatusError("status", request=REQUEST, response=response)


@pytest.mark.parametrize("make", [_response_error, _requests_http_error, _httpx_status_error])
@pytest.mark.parametrize(
    ("status", "retried", "failed"),
    [
        (500, True, True),
        (503, True, True),
        (408, True, True),
        (429, True, False),
        (404, False, False),
    ],
)
def test_status_errors_of_every_library_are_judged_by_status(
    make: Any, status: int, retried: bool, failed: bool
) -> None:
    exc = make(status)
    assert transient(exc) is retried
    # A breaker counts an answered 4xx (a 429 too: the dependency is up, holding this
    # caller to its quota) as the dependency working, everything else as failing.
    assert judged(exc)
    assert dependency_failed(exc) is failed


def test_rejections_and_cancellations_say_nothing_about_health() -> None:
    assert not judged(seawall.CircuitOpen("x", "open"))
    assert not judged(KeyboardInterrupt())
    assert judged(ValueError())
    assert dependency_failed(ValueError())
    assert dependency_failed(requests.exceptions.SSLError())


def test_a_grpc_error_without_a_finished_call_is_not_transient() -> None:
    assert not transient(grpc.RpcError())

    class Broken(grpc.RpcError):
        def code(self) -> grpc.StatusCode:
            raise RuntimeError("no call")

    assert not transient(Broken())


def test_the_most_specific_row_wins_and_is_cached_per_class() -> None:
    class MyRefused(requests.exceptions.SSLError):
        pass

    for _ in range(2):  # the second time from the cache
        assert not transient(MyRefused())
        assert transient(requests.ConnectTimeout())


@given(
    attribute=st.sampled_from(["status_code", "status"]),
    value=st.one_of(
        st.integers(-(10**6), 10**6), st.booleans(), st.floats(), st.text(max_size=5), st.none()
    ),
)
def test_any_status_attribute_is_judged_without_raising(attribute: str, value: object) -> None:
    exc = Exception()
    setattr(exc, attribute, value)
    expected = isinstance(value, int) and not isinstance(value, bool) and transient_status(value)
    assert transient(exc) is expected


def test_a_breaker_stays_closed_on_answered_4xx_and_opens_on_5xx() -> None:
    clock = FakeClock()
    breaker = seawall.CircuitBreaker("api", min_calls=4, clock=clock)

    def answer(status: int) -> None:
        raise _requests_http_error(status)

    for _ in range(8):
        with pytest.raises(requests.HTTPError):
            breaker.call(answer, 404)
    assert breaker.state == "closed"
    for _ in range(8):
        with pytest.raises(requests.HTTPError):
            breaker.call(answer, 503)
    assert breaker.state == "open"


def test_standard_retries_a_requests_connection_error() -> None:
    clock = FakeClock()
    policy = seawall.standard("api", clock=clock, rng=random.Random(1))
    calls = 0

    def refused() -> None:
        nonlocal calls
        calls += 1
        raise requests.ConnectionError("refused")

    with pytest.raises(requests.ConnectionError) as info:
        policy.call(refused)
    assert calls == 3
    assert "gave up after 3 attempts" in " ".join(info.value.__notes__)


@pytest.mark.parametrize(
    ("code", "failure"),
    [
        (grpc.StatusCode.UNAVAILABLE, True),
        (grpc.StatusCode.DEADLINE_EXCEEDED, True),
        (grpc.StatusCode.INTERNAL, True),
        (grpc.StatusCode.UNKNOWN, True),
        (grpc.StatusCode.DATA_LOSS, True),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, False),
        (grpc.StatusCode.INVALID_ARGUMENT, False),
        (grpc.StatusCode.NOT_FOUND, False),
        (grpc.StatusCode.PERMISSION_DENIED, False),
    ],
)
def test_any_breaker_reads_the_grpc_rows_of_the_one_table(
    code: grpc.StatusCode, failure: bool
) -> None:
    """A gRPC answer that judges the request is no verdict against the server's health."""
    breaker = seawall.CircuitBreaker("rpc", min_calls=1, clock=FakeClock())
    with pytest.raises(grpc.RpcError):
        breaker.call(_fails_with(_RpcError(code)))
    assert breaker.state == ("open" if failure else "closed")


def test_grpc_pushback_and_whose_deadline_decide_the_retry_in_the_table() -> None:
    from seawall.grpc._status import parse_pushback, remember

    exhausted = _RpcError(grpc.StatusCode.RESOURCE_EXHAUSTED)
    assert not transient(exhausted)
    remember(exhausted, parse_pushback([("grpc-retry-pushback-ms", "20")]), False)
    assert transient(exhausted)
    stopped = _RpcError(grpc.StatusCode.UNAVAILABLE)
    remember(stopped, parse_pushback([("grpc-retry-pushback-ms", "-1")]), False)
    assert not transient(stopped)
    capped = _RpcError(grpc.StatusCode.DEADLINE_EXCEEDED)
    remember(capped, None, False)  # the attempt's own cap fired: time is left
    assert transient(capped)
    callers = _RpcError(grpc.StatusCode.DEADLINE_EXCEEDED)
    remember(callers, None, True)
    assert not transient(callers)


def _fails_with(error: BaseException) -> Any:
    def call() -> None:
        raise error

    return call
