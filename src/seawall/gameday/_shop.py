"""The built-in game day's shop: three downstreams and two gateways, on loopback.

Downstreams (one process): **catalog** (essential: product data, a bounded worker pool),
**recommendations** (optional), **payments** (POST; every charge is a row in SQLite, so
duplicate charges are counted, not guessed). Each has an admin API to switch on a bad
deploy (answer 500s) and to read and reset its counters.

Gateways (a process each), the same shop logic written twice:

* **naive** — plain httpx, 3 attempts with a fixed 100 ms delay on any error, no
  deadline, breaker, bulkhead or idempotency key; a cache with one fixed TTL; a page fails
  when any part fails. This is what most services look like before an incident.
* **seawall** — ``standard`` pipelines via the seawall httpx client (deadline-derived
  timeouts, capped jittered retries with a budget, a breaker and bulkhead per host,
  idempotency keys on POST), a herd-safe cache (jittered TTL, coalescing, stale-if-error),
  recommendations as an optional part of a ``partial()`` answer, and ``protect()`` at the
  edge (deadlines, shedding, health).

Every downstream call of either gateway goes through its own fault proxies, so a fault is
applied to both the same way.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import signal
import sqlite3
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn

import seawall
import seawall.http
from seawall.http._asgi import ASGIApp, Receive, Scope, Send

__all__ = ["Downstream", "naive_gateway", "payments_app", "seawall_gateway", "service_app"]

Handler = Callable[[Scope, bytes], Awaitable[tuple[int, Any]]]


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _reply(send: Send, status: int, payload: Any, headers: list[Any] | None = None) -> None:
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), *(headers or [])],
        }
    )
    await send({"type": "http.response.body", "body": body})


@dataclass
class Downstream:
    """Counters and the fault switch of one downstream service."""

    name: str
    service_time: float
    capacity: int
    error_status: int | None = None
    fail_rate: float = 0.0  # a partial failure: this share of calls answers 503
    requests: int = 0
    in_flight: int = 0
    peak: int = 0
    workers: asyncio.Semaphore | None = field(default=None, repr=False)
    rng: random.Random = field(default_factory=lambda: random.Random(7), repr=False)

    def stats(self) -> dict[str, Any]:
        return {"name": self.name, "requests": self.requests, "peak": self.peak}

    def reset(self) -> None:
        self.requests = self.peak = 0
        self.error_status = None
        self.fail_rate = 0.0
        self.rng = random.Random(7)


def service_app(state: Downstream, handler: Handler) -> ASGIApp:
    """A downstream: admin routes, counting, a bounded worker pool, the bad-deploy switch."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        body = await _body(receive)
        if path == "/admin/stats":
            await _reply(send, 200, state.stats())
            return
        if path == "/admin/reset":
            state.reset()
            await _reply(send, 200, {"reset": state.name})
            return
        if path == "/admin/deploy":
            mode = json.loads(body or b"{}")
            state.error_status = mode.get("error_status")
            state.fail_rate = float(mode.get("fail_rate", 0.0))
            await _reply(send, 200, mode)
            return
        if path == "/livez":
            await _reply(send, 200, {"ok": True})
            return
        state.requests += 1
        state.in_flight += 1
        state.peak = max(state.peak, state.in_flight)
        try:
            if state.workers is None:
                state.workers = asyncio.Semaphore(state.capacity)
            async with state.workers:  # queueing here is how overload turns into latency
                await asyncio.sleep(state.service_time)
                if state.error_status is not None:
                    await _reply(send, state.error_status, {"error": "bad deploy"})
                    return
                if state.fail_rate and state.rng.random() < state.fail_rate:
                    await _reply(send, 503, {"error": "overloaded"}, [(b"retry-after", b"1")])
                    return
                status, payload = await handler(scope, body)
            await _reply(send, status, payload)
        finally:
            state.in_flight -= 1

    return app


async def _product(scope: Scope, body: bytes) -> tuple[int, Any]:
    pid = scope["path"].rsplit("/", 1)[-1]
    return 200, {"id": pid, "name": f"product {pid}", "price": 100 + len(pid)}


async def _recommendations(scope: Scope, body: bytes) -> tuple[int, Any]:
    return 200, {"items": ["p1", "p2", "p3"]}


def catalog_app(state: Downstream) -> ASGIApp:
    return service_app(state, _product)


def recommendations_app(state: Downstream) -> ASGIApp:
    return service_app(state, _recommendations)


class Charges:
    """The payments ledger: one SQLite row per charge actually made."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS charges (order_id TEXT, amount INTEGER)")

    def charge(self, order: str, amount: int) -> int:
        cursor = self.db.execute("INSERT INTO charges VALUES (?, ?)", (order, amount))
        return int(cursor.lastrowid or 0)

    def stats(self) -> dict[str, int]:
        total, orders = self.db.execute(
            "SELECT COUNT(*), COUNT(DISTINCT order_id) FROM charges"
        ).fetchone()
        return {"charges": total, "orders": orders, "duplicates": total - orders}

    def reset(self) -> None:
        self.db.execute("DELETE FROM charges")


def payments_app(state: Downstream, ledger: Charges, idempotency_db: Path) -> ASGIApp:
    """Payments: the server honours Idempotency-Key when a client sends one."""
    from seawall.http._idempotency import IdempotencyMiddleware
    from seawall.stores import SQLiteStore

    async def charge(scope: Scope, body: bytes) -> tuple[int, Any]:
        request = json.loads(body or b"{}")
        charge_id = ledger.charge(str(request.get("order")), int(request.get("amount", 0)))
        return 201, {"charge": charge_id}

    inner = service_app(state, charge)
    keyed = IdempotencyMiddleware(inner, store=SQLiteStore(idempotency_db))

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/admin/stats":
            await _reply(send, 200, {**state.stats(), **ledger.stats()})
            return
        if scope["type"] == "http" and scope["path"] == "/admin/reset":
            state.reset()
            ledger.reset()
            await _reply(send, 200, {"reset": "payments"})
            return
        await keyed(scope, receive, send)

    return app


# -- gateways ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Upstreams:
    catalog: str
    recommendations: str
    payments: str


CACHE_TTL = 2.0


class _Browse:
    """Which product a shopper looks at: seeded, from a keyspace of ``keys`` products."""

    def __init__(self, seed: int, keys: int = 40) -> None:
        self.rng = random.Random(seed)
        self.keys = keys
        self.orders = 0

    def pick(self, scope: Scope | None = None) -> str:
        keys = self.keys
        if scope is not None and scope.get("query_string", b"").startswith(b"hot="):
            keys = max(1, min(keys, int(scope["query_string"][4:] or b"1")))
        return f"p{self.rng.randrange(keys)}"


def _order(browse: _Browse) -> dict[str, Any]:
    """A new order per checkout: the gateway owns the order id, so retries of the charge
    carry the same order and every extra row in the ledger is a duplicate charge."""
    browse.orders += 1
    return {"order": f"o-{browse.rng.getrandbits(64):016x}-{browse.orders}", "amount": 1999}


def naive_gateway(up: Upstreams, *, seed: int = 0) -> ASGIApp:
    """The "before" gateway: fixed-delay retries on anything, no deadline, fixed-TTL cache."""
    client = httpx.AsyncClient()  # httpx defaults: a 5 s timeout, no retries
    # One connection per charge (both gateways): faults act per connection, so this lets
    # a flaky network hit each charge alike.
    payments = httpx.AsyncClient(limits=httpx.Limits(max_keepalive_connections=0))
    cache: dict[str, tuple[float, Any]] = {}

    async def call(method: str, url: str, **kw: Any) -> httpx.Response:
        http = payments if url.startswith(up.payments) else client
        for attempt in range(3):
            try:
                response = await http.request(method, url, **kw)
                if response.status_code < 500:
                    return response
            except httpx.TransportError:
                if attempt == 2:
                    raise
            await asyncio.sleep(0.1)
        return response

    async def product(pid: str) -> Any:
        hit = cache.get(pid)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        response = await call("GET", f"{up.catalog}/products/{pid}")
        response.raise_for_status()
        data = response.json()
        cache[pid] = (time.monotonic() + CACHE_TTL, data)
        return data

    browse = _Browse(seed)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        body = await _body(receive)
        try:
            if path == "/browse" or path.startswith("/product/"):
                pid = browse.pick(scope) if path == "/browse" else path.rsplit("/", 1)[-1]
                page = await product(pid)
                recs = await call("GET", f"{up.recommendations}/recommendations/u1")
                recs.raise_for_status()
                await _reply(send, 200, {"product": page, "recommendations": recs.json()})
            elif path == "/checkout":
                order = _order(browse)
                response = await call("POST", f"{up.payments}/charges", json=order)
                await _reply(send, 200 if response.status_code < 300 else 502, response.json())
            elif path == "/warm":
                cache.clear()
                for pid in json.loads(body):
                    await product(pid)
                await _reply(send, 200, {"warmed": len(cache)})
            elif path == "/livez":
                await _reply(send, 200, {"ok": True})
            else:
                await _reply(send, 404, {"error": "no route"})
        except Exception as exc:
            await _reply(send, 502, {"error": f"{type(exc).__name__}: {exc}"})

    return app


def seawall_gateway(up: Upstreams, *, seed: int = 0) -> ASGIApp:
    """The "after" gateway: the same shop with seawall at both edges."""
    client = seawall.http.AsyncClient(
        timeout=0.5,
        backoff=seawall.Backoff.exponential(initial=0.05, maximum=0.4),
        breaker={
            "min_calls": 10,
            "window": 5.0,
            "cooldown": 2.0,
            "failure_rate": 0.5,
            "slow_call_duration": 0.3,
            "slow_call_rate": 0.5,
        },
        max_concurrent=32,
        max_queue=32,
        rng=random.Random(seed),
    )
    payments = seawall.http.AsyncClient(
        timeout=1.0,
        backoff=seawall.Backoff.exponential(initial=0.05, maximum=0.4),
        retry_budget=0.5,
        limits=httpx.Limits(max_keepalive_connections=0),
        rng=random.Random(seed + 1),
    )
    cache = seawall.Cache(ttl=CACHE_TTL, jitter=0.25, stale_if_error=30.0, rng=random.Random(seed))

    async def fetch_product(pid: str) -> Any:
        response = await client.get(f"{up.catalog}/products/{pid}")
        response.raise_for_status()
        return response.json()

    async def product(pid: str) -> Any:
        return await cache.aget_or_load(pid, lambda: fetch_product(pid))

    async def recommendations() -> Any:
        response = await client.get(f"{up.recommendations}/recommendations/u1")
        response.raise_for_status()
        return response.json()

    browse = _Browse(seed)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        body = await _body(receive)
        try:
            if path == "/browse" or path.startswith("/product/"):
                pid = browse.pick(scope) if path == "/browse" else path.rsplit("/", 1)[-1]
                page = await seawall.partial(
                    {
                        "product": lambda: product(pid),
                        "recommendations": seawall.optional(
                            recommendations, default={"items": []}, timeout=0.3
                        ),
                    }
                )
                await _reply(send, 200, dict(page))
            elif path == "/checkout":
                response = await payments.post(f"{up.payments}/charges", json=_order(browse))
                await _reply(send, 200 if response.status_code < 300 else 502, response.json())
            elif path == "/warm":
                for pid in json.loads(body):
                    await cache.ainvalidate(pid)
                    await product(pid)
                await _reply(send, 200, {"warmed": len(json.loads(body))})
            else:
                await _reply(send, 404, {"error": "no route"})
        except seawall.Rejected as exc:
            retry = [(b"retry-after", str(max(1, round(exc.retry_after or 1))).encode())]
            await _reply(send, 503, {"error": str(exc)}, retry)
        except Exception as exc:
            await _reply(send, 502, {"error": f"{type(exc).__name__}: {exc}"})

    shedder = seawall.LoadShedder("gateway", limit=64, max_queue=64)
    return seawall.http.protect(app, maximum=2.0, shedder=shedder, idempotency=False)


# -- processes ----------------------------------------------------------------------------


class _Quiet(uvicorn.Server):
    """Several servers share one process and loop; the process owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _serve_all(apps: list[tuple[ASGIApp, int]]) -> None:
    servers = [
        _Quiet(
            uvicorn.Config(
                app,
                host="127.0.0.1",
                port=port,
                log_level="warning",
                access_log=False,
                lifespan="off",
                backlog=2048,
            )
        )
        for app, port in apps
    ]

    def stop() -> None:
        for server in servers:
            server.should_exit = True

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    await asyncio.gather(*(s.serve() for s in servers))


def main(argv: list[str] | None = None) -> int:
    """``python -m seawall.gameday._shop downstreams|gateway ...`` (started by the game day).

    Each gateway has a process of its own, so work one of them still has in flight (naive
    requests hanging on a blackhole) cannot slow the other's run.
    """
    parser = argparse.ArgumentParser(prog="seawall-shop")
    sub = parser.add_subparsers(dest="role", required=True)
    down = sub.add_parser("downstreams")
    down.add_argument("--catalog", type=int, required=True)
    down.add_argument("--recommendations", type=int, required=True)
    down.add_argument("--payments", type=int, required=True)
    down.add_argument("--data", type=Path, required=True)
    gate = sub.add_parser("gateway")
    gate.add_argument("kind", choices=("naive", "seawall"))
    gate.add_argument("--port", type=int, required=True)
    gate.add_argument("--upstreams", nargs=3, required=True)
    gate.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.role == "downstreams":
        args.data.mkdir(parents=True, exist_ok=True)
        catalog = Downstream("catalog", service_time=0.01, capacity=8)
        recs = Downstream("recommendations", service_time=0.005, capacity=16)
        payments = Downstream("payments", service_time=0.005, capacity=16)
        apps = [
            (catalog_app(catalog), args.catalog),
            (recommendations_app(recs), args.recommendations),
            (
                payments_app(payments, Charges(args.data / "charges.db"), args.data / "keys.db"),
                args.payments,
            ),
        ]
    else:
        build = naive_gateway if args.kind == "naive" else seawall_gateway
        apps = [(build(Upstreams(*args.upstreams), seed=args.seed), args.port)]
    asyncio.run(_serve_all(apps))
    return 0


if __name__ == "__main__":
    sys.exit(main())
