"""A -> B -> C on a real uvicorn: C is down, B's budget refuses, A tries B exactly once.

Each hop is seawall's own: A and B call through ``seawall.http.AsyncClient`` (Retry(3)
with the default RetryBudget per host), and all three are served behind
``seawall.http.protect``. Once B's budget has judged C to be failing broadly, B's 503
carries ``X-Request-Retry: no``, A does not retry it, and A's own 5xx says the same to
its caller: only the layer right above the failing one retries.
"""

from __future__ import annotations

import collections
from typing import Any

import httpx
import pytest

import seawall
import seawall.http

pytestmark = pytest.mark.integration

FAST = seawall.Backoff.constant(0.01)


def _chain() -> tuple[Any, collections.Counter[str], list[str]]:
    hits: collections.Counter[str] = collections.Counter()
    base: list[str] = []  # the server's URL, once it is up
    a_client = seawall.http.AsyncClient(backoff=FAST)
    b_client = seawall.http.AsyncClient(backoff=FAST)
    b_raising = seawall.http.AsyncClient(backoff=FAST, raise_for_status=True)

    async def reply(send: Any, status: int, text: str) -> None:
        body = text.encode()
        headers = [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def app(scope: Any, receive: Any, send: Any) -> None:
        path = scope["path"]
        hits[path] += 1
        if path == "/c":  # down: a plain 503, nothing said about retrying
            await reply(send, 503, "c is down")
        elif path == "/b":  # renders its own error after its call to C failed
            answer = await b_client.get(base[0] + "/c")
            await reply(send, 503 if answer.status_code >= 500 else 200, "b")
        elif path == "/b-raising":  # lets the client's error escape
            await b_raising.get(base[0] + "/c")
            await reply(send, 200, "b")
        elif path == "/close":  # the clients' connections belong to the server's loop
            for client in (a_client, b_client, b_raising):
                await client.aclose()
            await reply(send, 200, "closed")
        elif path == "/a":
            answer = await a_client.get(base[0] + "/b")
            await reply(send, 502 if answer.status_code >= 500 else 200, "a")
        else:
            await reply(send, 404, "")

    protected = seawall.http.protect(app, idempotency=False, shedder=False, metrics_path=None)
    return protected, hits, base


def test_only_the_layer_above_the_dead_service_retries(serve: Any) -> None:
    app, hits, base = _chain()
    with serve(app) as url, httpx.Client(base_url=url, timeout=5.0) as http:
        base.append(url)
        # B's first failed call keeps its 3 attempts; the next one is refused by B's
        # budget (every call it made failed) and answered "do not retry".
        first = http.get("/b")
        assert first.status_code == 503
        assert "x-request-retry" not in first.headers
        assert hits["/c"] == 3
        second = http.get("/b")
        assert second.status_code == 503
        assert second.headers["x-request-retry"] == "no"
        assert hits["/c"] == 4

        hits.clear()
        answer = http.get("/a")
        assert answer.status_code == 502
        assert hits["/b"] == 1  # A tried B exactly once
        assert hits["/c"] == 1  # and B tried C once
        assert answer.headers["x-request-retry"] == "no"  # passed on up

        escaped = http.get("/b-raising")  # a second client of C, its own budget
        assert "x-request-retry" not in escaped.headers  # its first call: all attempts
        escaped = http.get("/b-raising")
        assert escaped.status_code == 500
        assert escaped.headers["x-request-retry"] == "no"
        assert escaped.headers["content-type"] == "application/problem+json"
        assert http.get("/close").status_code == 200
