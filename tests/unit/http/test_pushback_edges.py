"""The "do not retry" answer in-process: ASGI and WSGI edges, and the HTTP client edge."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterable
from typing import Any

import httpx
import pytest

import seawall
import seawall.http
import seawall.wsgi
from seawall import _pushback
from seawall.testing import FakeClock

FAST = seawall.Backoff.constant(0.0)


def _spent_call() -> ConnectionError:
    """A call whose retries a budget refused: the dependency fails every call."""
    clock = FakeClock()
    retry = seawall.Retry(3, budget=seawall.RetryBudget(clock=clock), backoff=FAST, clock=clock)
    error: ConnectionError | None = None
    for _ in range(2):
        try:
            retry.call(_down)
        except ConnectionError as exc:
            error = exc
    assert error is not None
    return error


def _down() -> None:
    raise ConnectionError("down")


# -- ASGI ---------------------------------------------------------------------------------


def _asgi(handler: Any) -> Any:
    return seawall.http.protect(handler, idempotency=False, shedder=False, metrics_path=None)


def _get(app: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://edge") as client:
            return await client.get("/")

    return asyncio.run(go())


async def _reply(send: Any, status: int) -> None:
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def test_asgi_a_5xx_rendered_after_a_spent_call_says_do_not_retry() -> None:
    async def handler(scope: Any, receive: Any, send: Any) -> None:
        _spent_call()
        await _reply(send, 503)

    answer = _get(_asgi(handler))
    assert answer.status_code == 503
    assert answer.headers["x-request-retry"] == "no"


def test_asgi_a_spent_error_that_escapes_is_answered_500_do_not_retry() -> None:
    async def handler(scope: Any, receive: Any, send: Any) -> None:
        raise _spent_call()

    answer = _get(_asgi(handler))
    assert answer.status_code == 500
    assert answer.headers["x-request-retry"] == "no"
    assert answer.json()["title"] == "Dependency failing"


def test_asgi_other_failures_and_answers_say_nothing() -> None:
    async def plain_5xx(scope: Any, receive: Any, send: Any) -> None:
        await _reply(send, 500)

    async def recovered(scope: Any, receive: Any, send: Any) -> None:
        _spent_call()
        await _reply(send, 200)  # a fallback answered

    assert "x-request-retry" not in _get(_asgi(plain_5xx)).headers
    assert "x-request-retry" not in _get(_asgi(recovered)).headers


# -- WSGI ---------------------------------------------------------------------------------


def _wsgi_get(app: Any) -> tuple[int, dict[str, str]]:
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "SCRIPT_NAME": "",
        "wsgi.input": io.BytesIO(b""),
    }
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        seen["status"], seen["headers"] = int(status.split()[0]), dict(headers)
        return lambda data: None

    b"".join(app(environ, start_response))
    return seen["status"], seen["headers"]


def test_wsgi_a_5xx_rendered_after_a_spent_call_says_do_not_retry() -> None:
    def handler(environ: Any, start_response: Any) -> Iterable[bytes]:
        _spent_call()
        start_response("502 Bad Gateway", [])
        return [b""]

    status, headers = _wsgi_get(seawall.wsgi.protect(handler, idempotency=False))
    assert (status, headers["X-Request-Retry"]) == (502, "no")


def test_wsgi_a_spent_error_that_escapes_is_answered_500_do_not_retry() -> None:
    def handler(environ: Any, start_response: Any) -> Iterable[bytes]:
        raise _spent_call()

    status, headers = _wsgi_get(seawall.wsgi.protect(handler, idempotency=False))
    assert (status, headers["x-request-retry"]) == (500, "no")


def test_wsgi_a_request_that_recovered_leaves_no_note_for_the_threads_next_one() -> None:
    answers = iter(["200 OK", "500 Internal Server Error"])

    def handler(environ: Any, start_response: Any) -> Iterable[bytes]:
        status = next(answers)
        if status == "200 OK":
            _spent_call()  # then a fallback answered
        start_response(status, [])
        return [b""]

    app = seawall.wsgi.protect(handler, idempotency=False)
    assert _wsgi_get(app) == (200, {})
    assert _wsgi_get(app) == (500, {})  # a bug's 500: nothing said about retrying


# -- the HTTP client edge -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "attempts"),
    [
        ({"X-Request-Retry": "no"}, 1),
        ({"x-envoy-overloaded": "true"}, 1),
        ({}, 3),
    ],
)
def test_the_client_does_not_retry_a_5xx_that_says_so(
    headers: dict[str, str], attempts: int
) -> None:
    calls = 0

    def answer(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(503, headers=headers)

    transport = seawall.http.Transport(httpx.MockTransport(answer), backoff=FAST, clock=FakeClock())
    with httpx.Client(transport=transport) as client:
        assert client.get("http://dependency/").status_code == 503
    assert calls == attempts


def test_a_client_that_got_do_not_retry_notes_it_for_its_own_server_edge() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, headers={"X-Request-Retry": "no"})

    def serve() -> bool:
        transport = seawall.http.Transport(httpx.MockTransport(answer), clock=FakeClock())
        with httpx.Client(transport=transport) as client:
            client.get("http://dependency/")
        return _pushback.answered_spent()

    import contextvars

    assert contextvars.copy_context().run(serve)
