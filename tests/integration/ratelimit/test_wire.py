"""Rate limits on the wire: protect() on a real uvicorn, quota per tenant, shared on Redis."""

from __future__ import annotations

import time
from typing import Any

import httpx

import seawall.http
from seawall import RateLimiter
from seawall.stores import RedisRateLimitStore


async def ok(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def _tenant(scope: Any) -> str:
    return dict(scope["headers"]).get(b"x-tenant", b"-").decode()


def test_an_over_quota_tenant_gets_429_and_the_others_do_not(
    serve: Any, redis_server: str, redis_prefix: str
) -> None:
    store = RedisRateLimitStore.from_url(redis_server, prefix=redis_prefix)
    limiter = RateLimiter("tenant", rate=2.0, burst=3, store=store)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["path"] == "/close":  # the async client's connections live on this loop
            await store.aclose()
        await ok(scope, receive, send)

    protected = seawall.http.protect(app, rate_limit=limiter, rate_limit_key=_tenant)
    with serve(protected) as base, httpx.Client(base_url=base) as client:
        flood = [client.get("/", headers={"x-tenant": "noisy"}) for _ in range(6)]
        quiet = [client.get("/", headers={"x-tenant": "quiet"}) for _ in range(3)]
        assert [r.status_code for r in flood] == [200, 200, 200, 429, 429, 429]
        assert [r.status_code for r in quiet] == [200, 200, 200]
        assert [r.headers["ratelimit"] for r in quiet] == [
            '"tenant";r=2;t=1',
            '"tenant";r=1;t=1',
            '"tenant";r=0;t=1',
        ]
        refused = flood[-1]
        assert refused.headers["ratelimit-policy"] == '"tenant";q=2;w=1;seawall-burst=3'
        assert refused.headers["ratelimit"] == '"tenant";r=0;t=1'
        # Retry-After is the exact wait (at most one 0.5 s interval) rounded up: honouring
        # it is enough for the next request to pass.
        assert refused.headers["retry-after"] == "1"
        time.sleep(float(refused.headers["retry-after"]))
        again = client.get("/", headers={"x-tenant": "noisy"})
        assert again.status_code == 200
        assert again.headers["ratelimit"] in ('"tenant";r=0;t=1', '"tenant";r=1;t=1')
        assert limiter.limited == 3
        client.get("/close", headers={"x-tenant": "admin"})


def test_the_client_waits_out_retry_after_within_its_deadline(serve: Any) -> None:
    limiter = RateLimiter("api", rate=2.0, burst=1)
    app = seawall.http.protect(ok, rate_limit=limiter)
    transport = seawall.http.Transport()
    with serve(app) as base, httpx.Client(base_url=base, transport=transport) as client:
        assert client.get("/").status_code == 200
        started = time.monotonic()
        retried = client.get("/")  # 429 Retry-After: 1, then served
        waited = time.monotonic() - started
        assert retried.status_code == 200
        assert 0.8 <= waited < 3.0
        assert limiter.limited == 1
        # A 429 says the host is up and holding us to a quota: the breaker stays closed.
        breaker = transport.breaker_for(base).statistics()
        assert (breaker.state, breaker.failures, breaker.calls) == ("closed", 0, 3)
        # Retry-After past the deadline: the client returns the 429 at once, no sleep.
        with seawall.deadline(0.5):
            started = time.monotonic()
            refused = client.get("/")
        assert refused.status_code == 429
        assert time.monotonic() - started < 0.4
        assert refused.headers["retry-after"] == "1"
