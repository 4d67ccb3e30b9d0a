"""Idempotency-Key conformance on a real uvicorn, for SQLiteStore and RedisStore.

Each case runs against both stores: SQLite on a FakeClock (expiry by advancing it),
Redis on a real redis-server whose own PX expiry is exercised with sub-second TTLs.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seawall.http import IdempotencyMiddleware
from seawall.http._idempotency import fingerprint
from seawall.http._principal import session_principal
from seawall.stores import IdempotencyStore, MemoryStore, RecordKey, RedisStore, SQLiteStore
from seawall.testing import FakeClock
from tests.integration.http.charges import ChargeApp, effects
from tests.integration.http.servers import ServerThread


@dataclass
class Backend:
    """One store kind: how to make a store, and how to let time pass for it."""

    name: str
    make: Callable[[], IdempotencyStore]
    clock: FakeClock | None
    elapse: Callable[[float], None]
    redis_url: str = ""
    prefix: str = ""


@pytest.fixture(params=["sqlite", "redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        clock = FakeClock(1_000_000.0)
        opened: list[SQLiteStore] = []

        def sqlite() -> SQLiteStore:
            opened.append(SQLiteStore(tmp_path / "idempotency.db"))
            return opened[-1]

        yield Backend("sqlite", sqlite, clock, clock.advance)
        for store in opened:
            store.close()
        return
    url: str = request.getfixturevalue("redis_server")
    prefix: str = request.getfixturevalue("redis_prefix")
    yield Backend(
        "redis", lambda: RedisStore.from_url(url, prefix=prefix), None, time.sleep, url, prefix
    )


@dataclass
class Shop:
    url: str
    app: ChargeApp
    store: IdempotencyStore

    def post(self, key: str | None, charge: str = "c1", **kw: Any) -> httpx.Response:
        headers = dict(kw.pop("headers", {}))
        if key is not None:
            headers["Idempotency-Key"] = key
        content = f'{{"charge": "{charge}"}}'.encode()
        return httpx.post(f"{self.url}/charges", content=content, headers=headers, **kw)

    def effects(self) -> dict[str, int]:
        return dict(effects(self.app.path))


@pytest.fixture
def shop(backend: Backend, tmp_path: Path) -> Iterator[Callable[..., Shop]]:
    """``shop(**middleware_options)``: a ChargeApp behind the middleware on uvicorn."""
    with ExitStack() as stack:

        def start(gate: threading.Event | None = None, **options: Any) -> Shop:
            app = ChargeApp(tmp_path / "charges.db", gate=gate)
            stack.callback(app.close)
            store = backend.make()
            cleanup = (store.aclose,) if isinstance(store, RedisStore) else ()
            middleware = IdempotencyMiddleware(app, store=store, clock=backend.clock, **options)
            url = stack.enter_context(ServerThread(middleware, *cleanup))
            return Shop(url, app, store)

        yield start


def test_a_duplicate_is_replayed_not_rerun(shop: Callable[..., Shop]) -> None:
    s = shop()
    first = s.post("k1")
    again = s.post("k1")
    assert first.status_code == again.status_code == 201
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert again.headers["content-type"] == "application/json"
    assert s.effects() == {"c1": 1}


def test_a_concurrent_duplicate_gets_409(shop: Callable[..., Shop]) -> None:
    gate = threading.Event()
    s = shop(gate=gate)
    answers: list[httpx.Response] = []
    first = threading.Thread(target=lambda: answers.append(s.post("k", timeout=10)))
    first.start()
    assert s.app.entered.wait(5)
    conflict = s.post("k")
    assert conflict.status_code == 409
    assert conflict.headers["content-type"] == "application/problem+json"
    assert conflict.json()["title"] == "Request in progress"
    gate.set()
    first.join(10)
    assert answers[0].status_code == 201
    assert s.post("k").headers["idempotent-replayed"] == "true"
    assert s.effects() == {"c1": 1}


def test_the_same_key_with_another_payload_gets_422(shop: Callable[..., Shop]) -> None:
    s = shop()
    assert s.post("k", charge="c1").status_code == 201
    other = s.post("k", charge="c2")
    assert other.status_code == 422
    assert "different request" in other.json()["detail"]
    assert s.effects() == {"c1": 1}


@pytest.mark.parametrize(
    ("key", "detail"),
    [
        (None, "POST /charges requires an Idempotency-Key header"),
        ('"unterminated', "Idempotency-Key header is missing its closing quote"),
        ("x" * 256, "Idempotency-Key header is 256 characters long; at most 255 are allowed"),
        ("two words", "Idempotency-Key header may not contain ' ' unquoted"),
    ],
)
def test_a_missing_or_malformed_key_gets_400(
    shop: Callable[..., Shop], key: str | None, detail: str
) -> None:
    s = shop(require=("/charges",))
    answer = s.post(key)
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["detail"].startswith(detail)
    assert s.effects() == {}


def test_records_expire(shop: Callable[..., Shop], backend: Backend) -> None:
    s = shop(ttl=0.5)
    assert "idempotent-replayed" not in s.post("k").headers
    assert s.post("k").headers["idempotent-replayed"] == "true"
    backend.elapse(0.6)
    assert "idempotent-replayed" not in s.post("k").headers
    assert s.effects() == {"c1": 2}


def test_principals_are_isolated(shop: Callable[..., Shop]) -> None:
    s = shop()
    alice = {"Authorization": "Bearer alice"}
    bob = {"Authorization": "Bearer bob"}
    a = s.post("same", charge="a", headers=alice)
    b = s.post("same", charge="b", headers=bob)  # bob's body differs: still no 422
    assert (a.status_code, b.status_code) == (201, 201)
    assert s.post("same", charge="a", headers=alice).json() == a.json()
    assert s.post("same", charge="b", headers=bob).json() == b.json()
    assert s.post("same", charge="a").status_code == 201  # anonymous is a principal too
    assert s.effects() == {"a": 2, "b": 1}


def test_a_claim_abandoned_by_a_crashed_replica_expires_after_the_lock_ttl(
    shop: Callable[..., Shop], backend: Backend
) -> None:
    s = shop(lock_ttl=0.5)
    # A replica claimed this key and crashed before answering: only its record is left.
    body = b'{"charge": "c1"}'
    record = RecordKey(session_principal()({"headers": []}), "k")  # anonymous
    digest = fingerprint("POST", "/charges", b"", body)

    async def crashed_replica() -> None:
        other = backend.make()  # its own connection, as another process would have
        now = backend.clock.now() if backend.clock else time.time()
        claim = await other.claim(record, digest, now, 0.5)
        assert claim.status == "claimed"
        if isinstance(other, RedisStore):
            await other.aclose()

    asyncio.run(crashed_replica())
    assert s.post("k").status_code == 409
    backend.elapse(0.6)
    assert s.post("k").status_code == 201
    assert s.effects() == {"c1": 1}


def test_redis_claims_are_atomic_across_replicas(
    redis_server: str, redis_prefix: str, tmp_path: Path
) -> None:
    gate = threading.Event()
    app = ChargeApp(tmp_path / "charges.db", gate=gate)
    stores = [RedisStore.from_url(redis_server, prefix=redis_prefix) for _ in range(3)]
    body = b'{"charge": "c1"}'
    headers = {"Idempotency-Key": "k"}
    answers: list[tuple[int, str]] = []
    barrier = threading.Barrier(30)

    def post(url: str) -> None:
        barrier.wait()
        r = httpx.post(f"{url}/charges", content=body, headers=headers, timeout=10)
        answers.append((r.status_code, r.headers.get("idempotent-replayed", "")))

    with ExitStack() as stack:
        urls = [
            stack.enter_context(ServerThread(IdempotencyMiddleware(app, store=s), s.aclose))
            for s in stores
        ]
        # 30 identical requests at once over 3 replicas, each with its own Redis client.
        threads = [threading.Thread(target=post, args=(urls[i % 3],)) for i in range(30)]
        for t in threads:
            t.start()
        # One wins the claim and is held at the gate; every other one is answered 409.
        deadline = time.monotonic() + 10
        while len(answers) < 29 and time.monotonic() < deadline:
            time.sleep(0.01)
        gate.set()
        for t in threads:
            t.join(10)
        after = [httpx.post(f"{u}/charges", content=body, headers=headers) for u in urls]
    app.close()
    assert sorted(answers) == [(201, "")] + [(409, "")] * 29
    assert {(r.status_code, r.headers["idempotent-replayed"]) for r in after} == {(201, "true")}
    assert effects(app.path) == {"c1": 1}


# -- the header on the wire: raw bytes through uvicorn's own parser, then ours


@pytest.fixture
def raw_server(tmp_path: Path) -> Iterator[tuple[int, ChargeApp]]:
    app = ChargeApp(tmp_path / "charges.db")
    middleware = IdempotencyMiddleware(app, store=MemoryStore(), require=("/charges",))
    with ServerThread(middleware) as url:
        yield int(url.rsplit(":", 1)[1]), app
    app.close()


def raw_post(port: int, key: bytes) -> tuple[int, bytes, bytes]:
    """Send one request with ``key`` verbatim as the header value; (status, head, body)."""
    body = b'{"charge": "fuzz"}'
    request = (
        b"POST /charges HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        b"Idempotency-Key: " + key + b"\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, payload = b"".join(chunks).partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), head.lower(), payload


WIRE_VALUES = st.binary(max_size=300).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")) | (
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=300).map(str.encode)
)


def test_random_header_bytes_on_the_wire_get_400_or_run_never_500(
    raw_server: tuple[int, ChargeApp],
) -> None:
    port, _ = raw_server
    seen: Counter[str] = Counter()

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(WIRE_VALUES)
    def check(key: bytes) -> None:
        status, head, payload = raw_post(port, key)
        assert status in (201, 400), (key, status, payload)
        if status == 400 and b"application/problem+json" in head:
            assert b'"detail": "Idempotency-Key header ' in payload
            seen["400 from seawall"] += 1
        else:
            seen[f"{status} from {'the app' if status == 201 else 'uvicorn'}"] += 1

    check()
    print(dict(seen))
    assert seen["201 from the app"]
    assert seen["400 from seawall"]
