"""The stores' sync forms: one implementation with the async ones, one set of records."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import seawall.http
from seawall.stores import MemoryStore, RecordKey, SQLiteStore, StoredResponse
from seawall.wsgi import protect


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "memory":
        yield MemoryStore()
        return
    made = SQLiteStore(tmp_path / "keys.db")
    yield made
    made.close()


def test_a_sync_claim_is_seen_by_the_async_form_and_back(store: Any) -> None:
    key = RecordKey("alice", "k1")
    claim = store.claim_sync(key, "fp", 100.0, 60.0)
    assert claim.status == "claimed"
    assert asyncio.run(store.claim(key, "fp", 101.0, 60.0)).status == "in_flight"
    response = StoredResponse(201, ((b"content-type", b"text/plain"),), b"made")
    assert store.complete_sync(key, claim.token, response, 102.0, 1000.0)
    replay = asyncio.run(store.claim(key, "fp", 103.0, 60.0))
    assert replay.status == "completed"
    assert replay.response == response
    assert store.claim_sync(key, "other", 104.0, 60.0).status == "mismatch"
    second = RecordKey("alice", "k2")
    token = asyncio.run(store.claim(second, "fp", 100.0, 60.0)).token
    store.release_sync(second, token)
    assert store.claim_sync(second, "fp", 101.0, 60.0).status == "claimed"


def test_a_response_stored_by_the_asgi_edge_is_replayed_by_the_wsgi_edge() -> None:
    store = MemoryStore()
    runs: list[str] = []

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        runs.append("asgi")
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b"order 1"})

    def wsgi(environ: Any, start_response: Any) -> list[bytes]:
        runs.append("wsgi")
        start_response("201 Created", [])
        return [b"order 2"]

    headers = [
        (b"idempotency-key", b"k"),
        (b"authorization", b"Bearer a"),
        (b"cookie", b"sessionid=s1; _ga=1"),
    ]
    scope = {"type": "http", "method": "POST", "path": "/orders", "query_string": b"a=1"}

    async def post() -> None:
        messages = iter([{"type": "http.request", "body": b"{}", "more_body": False}])

        async def receive() -> Any:
            return next(messages)

        async def send(message: Any) -> None:
            pass

        await seawall.http.protect(asgi, idempotency=store)(
            {**scope, "headers": headers}, receive, send
        )

    asyncio.run(post())
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/orders",
        "QUERY_STRING": "a=1",
        "CONTENT_LENGTH": "2",
        "wsgi.input": io.BytesIO(b"{}"),
        "HTTP_IDEMPOTENCY_KEY": "k",
        "HTTP_AUTHORIZATION": "Bearer a",
        "HTTP_COOKIE": "sessionid=s1; _ga=2",  # another analytics cookie: same caller
    }
    seen: list[str] = []
    body = b"".join(protect(wsgi, idempotency=store)(environ, lambda s, h, e=None: seen.append(s)))
    assert runs == ["asgi"]
    assert seen == ["201 Created"]
    assert body == b"order 1"
