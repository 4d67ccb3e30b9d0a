"""The rate-limit step of protect() in-process on a FakeClock, and the draft's fields."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import seawall
import seawall.http
from seawall import ConfigError, HeaderError, LoadShedder, RateLimiter
from seawall._quota_fields import (
    limit_field,
    parse_limit_field,
    policy_field,
)
from seawall.policies._gcra import Quota, step
from seawall.stores import MemoryStore
from seawall.testing import FakeClock


async def ok(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def _tenant(scope: Any) -> str:
    return dict(scope["headers"]).get(b"x-tenant", b"-").decode()


def _get(app: Any, requests: list[tuple[str, str, dict[str, str]]]) -> list[httpx.Response]:
    async def go() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return [
                await client.request(method, path, headers=headers)
                for method, path, headers in requests
            ]

    return asyncio.run(go())


def test_over_quota_tenant_gets_429_with_the_draft_fields_others_do_not() -> None:
    clock = FakeClock()
    limiter = RateLimiter("api", rate=2.0, burst=3, clock=clock)
    app = seawall.http.protect(ok, rate_limit=limiter, rate_limit_key=_tenant, clock=clock)
    a, b = {"x-tenant": "a"}, {"x-tenant": "b"}
    responses = _get(app, [("GET", "/", a)] * 4 + [("GET", "/", b)])
    assert [r.status_code for r in responses] == [200, 200, 200, 429, 200]
    assert [r.headers["ratelimit"] for r in responses] == [
        '"api";r=2;t=1',
        '"api";r=1;t=1',
        '"api";r=0;t=1',
        '"api";r=0;t=1',
        '"api";r=2;t=1',
    ]
    assert {r.headers["ratelimit-policy"] for r in responses} == {'"api";q=2;w=1;seawall-burst=3'}
    refused = responses[3]
    assert refused.headers["retry-after"] == "1"
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["status"] == 429
    assert (limiter.admitted, limiter.limited) == (4, 1)


def test_retry_after_rounds_the_exact_wait_up() -> None:
    clock = FakeClock()
    limiter = RateLimiter("slow", rate=0.25, burst=1, clock=clock)  # one per 4 s
    app = seawall.http.protect(ok, rate_limit=limiter, clock=clock)
    first, refused = _get(app, [("GET", "/", {})] * 2)
    assert first.status_code == 200
    assert first.headers["ratelimit-policy"] == '"slow";q=1;w=4;seawall-burst=1'
    assert refused.headers["retry-after"] == "4"
    assert refused.headers["ratelimit"] == '"slow";r=0;t=4'
    clock.advance(2.5)
    (again,) = _get(app, [("GET", "/", {})])
    assert again.headers["retry-after"] == "2"  # 1.5 s left, rounded up


def test_rate_limited_requests_are_not_shed_counted_nor_stored_for_replay() -> None:
    clock = FakeClock()
    shedder = LoadShedder("http", clock=clock)
    store = MemoryStore()
    limiter = RateLimiter(rate=1.0, burst=1, clock=clock)
    app = seawall.http.protect(
        ok, rate_limit=limiter, shedder=shedder, idempotency=store, clock=clock
    )
    keyed = {"Idempotency-Key": "k-1"}
    first, refused, refused_again = _get(app, [("POST", "/orders", keyed)] * 3)
    assert (first.status_code, refused.status_code, refused_again.status_code) == (200, 429, 429)
    assert "idempotent-replayed" not in refused_again.headers
    assert sum(shedder.statistics().admitted.values()) == 1
    clock.advance(1.0)
    (replay,) = _get(app, [("POST", "/orders", keyed)])
    assert replay.headers["idempotent-replayed"] == "true"  # the 200, not a 429


def test_probes_are_never_rate_limited() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=1.0, burst=1, clock=clock)
    app = seawall.http.protect(ok, rate_limit=limiter, clock=clock)
    responses = _get(app, [("GET", "/readyz", {})] * 5)
    assert {r.status_code for r in responses} == {200}
    assert limiter.admitted == 0


def test_the_default_key_is_the_authorization_else_the_client_address() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=1.0, burst=1, clock=clock)
    app = seawall.http.protect(ok, rate_limit=limiter, clock=clock)
    statuses = [
        r.status_code
        for r in _get(
            app,
            [
                ("GET", "/", {"Authorization": "Bearer a"}),
                ("GET", "/", {"Authorization": "Bearer b"}),
                ("GET", "/", {}),
                ("GET", "/", {"Authorization": "Bearer a"}),
                ("GET", "/", {}),
            ],
        )
    ]
    assert statuses == [200, 200, 200, 429, 429]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"rate_limit": 5}, "rate_limit must be a seawall.RateLimiter"),
        ({"rate_limit_key": lambda scope: "k"}, "rate_limit_key= applies to rate_limit="),
        ({"rate_limit": RateLimiter(rate=1.0), "rate_limit_key": "tenant"}, "rate_limit_key"),
        ({"rate_limit": RateLimiter("caf\u00e9", rate=1.0)}, "printable ASCII"),
    ],
)
def test_protect_checks_the_rate_limit_arguments(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        seawall.http.protect(ok, **kwargs)


# -- the fields -----------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    name=st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20),
    rate=st.floats(min_value=0.01, max_value=1e6),
    burst=st.integers(min_value=1, max_value=10_000),
    gap=st.floats(min_value=0.0, max_value=100.0),
    taken=st.integers(min_value=0, max_value=30),
)
def test_the_fields_we_send_parse_back(
    name: str, rate: float, burst: int, gap: float, taken: int
) -> None:
    quota = Quota(rate, burst)
    tat = None
    for _ in range(taken):
        _, tat = step(tat, 0.0, quota)
    verdict, _ = step(tat, gap, quota)
    (limit,) = parse_limit_field([limit_field(name, verdict, quota).decode()])
    assert limit.name == name
    assert limit.remaining == (verdict.remaining if verdict.allowed else 0)
    assert limit.reset is not None
    if not verdict.allowed:
        assert limit.reset >= verdict.retry_after  # never earlier than Retry-After
    (policy,) = parse_limit_field([policy_field(name, quota).decode().replace(";q=", ";r=")])
    assert policy.name == name


@settings(max_examples=500, deadline=None)
@given(st.lists(st.text(max_size=60), max_size=3))
def test_any_field_text_parses_or_is_a_header_error(values: list[str]) -> None:
    try:
        limits = parse_limit_field(values)
    except HeaderError:
        return
    assert all(limit.remaining >= 0 for limit in limits)


def test_the_parser_reads_the_drafts_examples() -> None:
    assert parse_limit_field(['"default";r=50;t=30']) == [
        seawall._quota_fields.ServiceLimit("default", 50, 30)
    ]
    parsed = parse_limit_field(['"default";r=999;pk=:dHJpYWwxMjEzMjM=:', '"b";r=0;t=10'])
    assert [(p.name, p.remaining, p.reset) for p in parsed] == [
        ("default", 999, None),
        ("b", 0, 10),
    ]
    assert parse_limit_field(['"x";t=3']) == []  # no r: nothing to act on
    for bad in ['"open', '"a";r=1,', '"a";R=1', '"a";r=1 "b"', "(1 2)"]:
        with pytest.raises(HeaderError):
            parse_limit_field([bad])
