"""IdempotencyMiddleware in-process (httpx.ASGITransport), on a FakeClock.

The fast conformance cases of the IETF draft: replay, 409, 422, 400, expiry, the lock
TTL, principals; and what is deliberately not stored (5xx, 429, raised, too large).
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seawall.http import IdempotencyEvent, IdempotencyMiddleware
from seawall.http._idempotency import fingerprint
from seawall.stores import MemoryStore, RecordKey
from seawall.testing import FakeClock, capture_events

Scope = dict[str, Any]


class Shop:
    """An ASGI app with side effects to count.

    ``/charges`` creates a charge; ``/flaky?status=S`` answers S the first time and 201
    after; ``/boom`` raises the first time; ``/stream?chunks=N`` streams N 1 KiB chunks;
    ``/slow`` waits until ``release`` is set.
    """

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope["path"]
        self.calls[path] += 1
        n = self.calls[path]
        query = {k: v[0] for k, v in parse_qs(scope["query_string"].decode()).items()}
        status = 201
        if path == "/flaky" and n == 1:
            status = int(query["status"])
        if path == "/boom" and n == 1:
            raise RuntimeError("handler failed")
        if path == "/slow":
            self.entered.set()
            await self.release.wait()
        headers = [
            (b"content-type", b"application/json"),
            (b"x-charge", str(n).encode()),
            (b"connection", b"keep-alive"),
        ]
        if path == "/stream":
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            for _ in range(int(query["chunks"])):
                await send({"type": "http.response.body", "body": b"x" * 1024, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            return
        payload = json.dumps({"charge": n, "body": body.decode()}).encode()
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


Run = Callable[[Callable[[httpx.AsyncClient], Awaitable[None]]], None]


def harness(**options: Any) -> tuple[Shop, IdempotencyMiddleware, Run]:
    shop = Shop()
    options.setdefault("clock", FakeClock(1000.0))
    middleware = IdempotencyMiddleware(shop, **options)

    def run(body: Callable[[httpx.AsyncClient], Awaitable[None]]) -> None:
        async def main() -> None:
            transport = httpx.ASGITransport(app=middleware)
            async with httpx.AsyncClient(transport=transport, base_url="http://shop") as client:
                await body(client)

        asyncio.run(main())

    return shop, middleware, run


def key(value: str) -> dict[str, str]:
    return {"Idempotency-Key": value}


def test_a_duplicate_gets_the_stored_response_marked_replayed() -> None:
    shop, _, run = harness()

    async def body(client: httpx.AsyncClient) -> None:
        first = await client.post("/charges", json={"amount": 5}, headers=key("k1"))
        again = await client.post("/charges", json={"amount": 5}, headers=key("k1"))
        assert first.status_code == again.status_code == 201
        assert again.content == first.content
        assert again.headers["x-charge"] == "1"
        assert again.headers["content-type"] == "application/json"
        assert again.headers["idempotent-replayed"] == "true"
        assert "idempotent-replayed" not in first.headers
        assert "connection" not in again.headers  # hop-by-hop headers are not stored
        assert again.headers["content-length"] == str(len(first.content))

    with capture_events() as events:
        run(body)
    assert shop.calls["/charges"] == 1
    assert [e.outcome for e in events if isinstance(e, IdempotencyEvent)] == ["replayed"]


def test_the_quoted_and_bare_forms_name_the_same_key() -> None:
    shop, _, run = harness()

    async def body(client: httpx.AsyncClient) -> None:
        await client.post("/charges", content=b"x", headers=key('"k-1"'))
        again = await client.post("/charges", content=b"x", headers=key("k-1"))
        assert again.headers["idempotent-replayed"] == "true"

    run(body)
    assert shop.calls["/charges"] == 1


def test_a_concurrent_duplicate_gets_409_and_the_first_still_completes() -> None:
    shop, _, run = harness()

    async def body(client: httpx.AsyncClient) -> None:
        first = asyncio.create_task(client.post("/slow", content=b"a", headers=key("k")))
        await shop.entered.wait()
        conflict = await client.post("/slow", content=b"a", headers=key("k"))
        assert conflict.status_code == 409
        assert conflict.headers["content-type"] == "application/problem+json"
        assert conflict.json()["status"] == 409
        assert "still being processed" in conflict.json()["detail"]
        shop.release.set()
        assert (await first).status_code == 201
        replay = await client.post("/slow", content=b"a", headers=key("k"))
        assert replay.headers["idempotent-replayed"] == "true"

    run(body)
    assert shop.calls["/slow"] == 1


@pytest.mark.parametrize(
    ("method", "url", "content"),
    [
        ("POST", "/charges", b'{"amount": 6}'),  # another body
        ("POST", "/refunds", b'{"amount": 5}'),  # another path
        ("POST", "/charges?currency=eur", b'{"amount": 5}'),  # another query
        ("PATCH", "/charges", b'{"amount": 5}'),  # another method
    ],
)
def test_the_same_key_with_another_request_gets_422(method: str, url: str, content: bytes) -> None:
    shop, _, run = harness()

    async def body(client: httpx.AsyncClient) -> None:
        await client.post("/charges", content=b'{"amount": 5}', headers=key("k"))
        other = await client.request(method, url, content=content, headers=key("k"))
        assert other.status_code == 422
        problem = other.json()
        assert set(problem) == {"type", "title", "status", "detail"}
        assert "different request" in problem["detail"]

    run(body)
    assert sum(shop.calls.values()) == 1


def test_a_route_that_requires_a_key_answers_400_without_one() -> None:
    shop, _, run = harness(require=("/charges",))

    async def body(client: httpx.AsyncClient) -> None:
        missing = await client.post("/charges/new", content=b"x")
        assert missing.status_code == 400
        assert missing.json()["title"] == "Idempotency-Key required"
        assert (await client.post("/chargesX", content=b"x")).status_code == 201
        assert (await client.post("/other", content=b"x")).status_code == 201
        assert (await client.get("/charges")).status_code == 201  # GET is not keyed

    run(body)
    assert "/charges/new" not in shop.calls


def test_require_takes_a_predicate() -> None:
    _, _, run = harness(require=lambda method, path: method == "PATCH")

    async def body(client: httpx.AsyncClient) -> None:
        assert (await client.patch("/charges", content=b"x")).status_code == 400
        assert (await client.post("/charges", content=b"x")).status_code == 201

    run(body)


def test_without_a_key_every_request_runs() -> None:
    shop, _, run = harness()

    async def body(client: httpx.AsyncClient) -> None:
        await client.post("/charges", content=b"x")
        await client.post("/charges", content=b"x")

    run(body)
    assert shop.calls["/charges"] == 2


def test_a_malformed_key_gets_400_saying_why() -> None:
    shop, _, run = harness()

    async def body(client: httpx.AsyncClient) -> None:
        bad = await client.post("/charges", content=b"x", headers=key('"unterminated'))
        assert bad.status_code == 400
        assert bad.headers["content-type"] == "application/problem+json"
        assert bad.json()["detail"] == "Idempotency-Key header is missing its closing quote"
        twice = await client.post(
            "/charges", content=b"x", headers=[("Idempotency-Key", "a"), ("Idempotency-Key", "b")]
        )
        assert twice.status_code == 400
        assert twice.json()["detail"] == "Idempotency-Key header was sent more than once"

    run(body)
    assert shop.calls["/charges"] == 0


def test_records_expire_after_the_ttl() -> None:
    clock = FakeClock(1000.0)
    shop, _, run = harness(clock=clock, ttl=3600.0)

    async def body(client: httpx.AsyncClient) -> None:
        await client.post("/charges", content=b"x", headers=key("k"))
        clock.advance(3599.0)
        replay = await client.post("/charges", content=b"x", headers=key("k"))
        assert replay.headers["idempotent-replayed"] == "true"
        clock.advance(1.0)
        fresh = await client.post("/charges", content=b"x", headers=key("k"))
        assert "idempotent-replayed" not in fresh.headers
        assert fresh.headers["x-charge"] == "2"

    run(body)
    assert shop.calls["/charges"] == 2


def test_a_claim_left_by_a_crashed_process_expires_after_the_lock_ttl() -> None:
    clock = FakeClock(1000.0)
    store = MemoryStore()
    shop, middleware, run = harness(clock=clock, store=store, lock_ttl=30.0)

    async def body(client: httpx.AsyncClient) -> None:
        # Another replica claimed the key and died before answering.
        request = client.build_request("POST", "/charges", content=b"x", headers=key("k"))
        principal = middleware.principal({"headers": []})
        assert isinstance(principal, str)
        digest = fingerprint("POST", "/charges", b"", b"x")
        await store.claim(RecordKey(principal, "k"), digest, clock.now(), 30.0)
        assert (await client.send(request)).status_code == 409
        clock.advance(29.9)
        assert (await client.send(request)).status_code == 409
        clock.advance(0.1)
        assert (await client.send(request)).status_code == 201

    run(body)
    assert shop.calls["/charges"] == 1


def test_principals_never_see_each_others_responses() -> None:
    shop, _, run = harness()

    async def body(client: httpx.AsyncClient) -> None:
        alice = {"Idempotency-Key": "same", "Authorization": "Bearer alice"}
        bob = {"Idempotency-Key": "same", "Authorization": "Bearer bob"}
        a1 = await client.post("/charges", content=b"x", headers=alice)
        b1 = await client.post("/charges", content=b"x", headers=bob)
        a2 = await client.post("/charges", content=b"x", headers=alice)
        b2 = await client.post("/charges", content=b"x", headers=bob)
        assert (a1.headers["x-charge"], b1.headers["x-charge"]) == ("1", "2")
        assert a2.headers["x-charge"] == "1"
        assert b2.headers["x-charge"] == "2"
        # Another body from bob is his own key's mismatch, not alice's replay.
        assert (await client.post("/charges", content=b"y", headers=bob)).status_code == 422

    run(body)
    assert shop.calls["/charges"] == 2


def test_a_custom_principal_scopes_keys() -> None:
    async def tenant(scope: Scope) -> str:
        return dict(scope["headers"]).get(b"x-tenant", b"").decode()

    shop, _, run = harness(principal=tenant)

    async def body(client: httpx.AsyncClient) -> None:
        for tenant_id in ("t1", "t2", "t1"):
            await client.post(
                "/charges", content=b"x", headers={"Idempotency-Key": "k", "X-Tenant": tenant_id}
            )

    run(body)
    assert shop.calls["/charges"] == 2


@pytest.mark.parametrize("status", [500, 503, 429, 408])
def test_statuses_clients_retry_are_not_stored(status: int) -> None:
    shop, _, run = harness()

    async def body(client: httpx.AsyncClient) -> None:
        failed = await client.post(f"/flaky?status={status}", content=b"x", headers=key("k"))
        assert failed.status_code == status
        retried = await client.post(f"/flaky?status={status}", content=b"x", headers=key("k"))
        assert retried.status_code == 201
        assert "idempotent-replayed" not in retried.headers

    with capture_events() as events:
        run(body)
    assert shop.calls["/flaky"] == 2
    outcomes = [(e.outcome, e.status) for e in events if isinstance(e, IdempotencyEvent)]
    assert outcomes == [("not_stored", status)]


def test_a_4xx_answer_is_stored_and_replayed() -> None:
    shop, _, run = harness()

    async def body(client: httpx.AsyncClient) -> None:
        await client.post("/flaky?status=402", content=b"x", headers=key("k"))
        replay = await client.post("/flaky?status=402", content=b"x", headers=key("k"))
        assert replay.status_code == 402
        assert replay.headers["idempotent-replayed"] == "true"

    run(body)
    assert shop.calls["/flaky"] == 1


def test_a_handler_that_raises_releases_the_key() -> None:
    shop, _, run = harness()

    async def body(client: httpx.AsyncClient) -> None:
        with pytest.raises(RuntimeError):
            await client.post("/boom", content=b"x", headers=key("k"))
        assert (await client.post("/boom", content=b"x", headers=key("k"))).status_code == 201

    run(body)
    assert shop.calls["/boom"] == 2


def test_a_streamed_response_is_stored_up_to_max_body() -> None:
    shop, _, run = harness(max_body=4096)

    async def body(client: httpx.AsyncClient) -> None:
        small = await client.post("/stream?chunks=4", content=b"x", headers=key("small"))
        assert len(small.content) == 4096
        again = await client.post("/stream?chunks=4", content=b"x", headers=key("small"))
        assert again.headers["idempotent-replayed"] == "true"
        assert again.content == small.content
        big = await client.post("/stream?chunks=5", content=b"x", headers=key("big"))
        assert len(big.content) == 5120  # streamed through in full, just not kept
        rerun = await client.post("/stream?chunks=5", content=b"x", headers=key("big"))
        assert "idempotent-replayed" not in rerun.headers

    run(body)
    assert shop.calls["/stream"] == 3


def test_a_request_body_over_max_body_gets_413() -> None:
    shop, _, run = harness(max_body=10)

    async def body(client: httpx.AsyncClient) -> None:
        large = await client.post("/charges", content=b"x" * 11, headers=key("k"))
        assert large.status_code == 413
        assert "at most 10 bytes" in large.json()["detail"]
        assert (await client.post("/charges", content=b"x" * 11)).status_code == 201

    run(body)
    assert shop.calls["/charges"] == 1


class BrokenStore(MemoryStore):
    async def claim(self, *args: Any) -> Any:
        raise ConnectionError("store down")


def test_an_unreachable_store_means_503_not_an_unprotected_run() -> None:
    shop, _, run = harness(store=BrokenStore())

    async def body(client: httpx.AsyncClient) -> None:
        answer = await client.post("/charges", content=b"x", headers=key("k"))
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "1"

    run(body)
    assert shop.calls["/charges"] == 0


def test_other_scopes_and_methods_pass_straight_through() -> None:
    scopes: list[str] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        scopes.append(scope["type"])

    async def receive() -> dict[str, Any]:
        return {"type": "lifespan.startup"}

    async def send(message: dict[str, Any]) -> None:
        raise AssertionError("the middleware must not answer a lifespan scope")

    asyncio.run(IdempotencyMiddleware(app)({"type": "lifespan"}, receive, send))
    assert scopes == ["lifespan"]
    shop, _, run = harness()

    async def body(client: httpx.AsyncClient) -> None:
        bad = {"Idempotency-Key": '"broken'}
        assert (await client.put("/charges", content=b"x", headers=bad)).status_code == 201
        assert (await client.put("/charges", content=b"x", headers=bad)).status_code == 201

    run(body)
    assert shop.calls["/charges"] == 2


def test_options_are_validated() -> None:
    with pytest.raises(ValueError, match="ttl"):
        IdempotencyMiddleware(Shop(), ttl=0)
    with pytest.raises(ValueError, match="prefixes"):
        IdempotencyMiddleware(Shop(), require=("charges",))


# --- fuzz: any header bytes give 400 with a problem body, or run the handler; never 500


PRINTABLE = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
HEADER_BYTES = (
    st.binary(max_size=300)
    | st.text(max_size=300).map(str.encode)
    | st.text(PRINTABLE, max_size=300).map(str.encode)
    | st.text(PRINTABLE, max_size=300).map(lambda t: f'"{t}"'.encode())
)


@settings(max_examples=300, deadline=None)
@given(st.lists(HEADER_BYTES, min_size=1, max_size=3))
def test_random_idempotency_headers_get_400_or_run_never_500(values: list[bytes]) -> None:
    middleware = IdempotencyMiddleware(Shop(), clock=FakeClock())
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/charges",
        "query_string": b"",
        "headers": [(b"idempotency-key", v) for v in values],
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(middleware(scope, receive, send))
    status = sent[0]["status"]
    assert status in (201, 400)
    if status == 400:
        problem = json.loads(sent[1]["body"])
        assert problem["status"] == 400
        assert problem["detail"].startswith("Idempotency-Key header ")
        assert len(problem["detail"]) < 200
