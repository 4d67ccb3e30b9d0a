"""seawall.wsgi.protect(rate_limit=...): the ASGI edge's quota per caller, on threads."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from seawall import ConfigError, LoadShedder, RateLimiter
from seawall.stores import MemoryStore
from seawall.testing import FakeClock
from seawall.wsgi import protect
from tests.unit.wsgi.test_wsgi_edge import call


def hello(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hi"]


def test_an_over_quota_caller_gets_429_with_the_fields_and_others_do_not() -> None:
    clock = FakeClock()
    limiter = RateLimiter("api", rate=2.0, burst=2, clock=clock)
    app = protect(hello, rate_limit=limiter, clock=clock)
    a = [call(app, AUTHORIZATION="Bearer a") for _ in range(3)]
    b = call(app, AUTHORIZATION="Bearer b")
    assert [status for status, _, _ in a] == [200, 200, 429]
    assert b[0] == 200
    assert [headers["RateLimit"] for _, headers, _ in a[:2]] == [
        '"api";r=1;t=1',
        '"api";r=0;t=1',
    ]
    _, refused, _ = a[2]
    assert refused["retry-after"] == "1"
    assert refused["ratelimit"] == '"api";r=0;t=1'
    assert refused["ratelimit-policy"] == '"api";q=2;w=1;seawall-burst=2'
    assert b[1]["RateLimit-Policy"] == '"api";q=2;w=1;seawall-burst=2'
    clock.advance(0.5)
    assert call(app, AUTHORIZATION="Bearer a")[0] == 200


def test_rate_limited_requests_are_not_shed_counted_nor_stored_for_replay() -> None:
    clock = FakeClock()
    shedder = LoadShedder("http", clock=clock)
    limiter = RateLimiter(rate=1.0, burst=1, clock=clock)
    app = protect(
        hello, rate_limit=limiter, shedder=shedder, idempotency=MemoryStore(), clock=clock
    )
    statuses = [call(app, method="POST", IDEMPOTENCY_KEY="k")[0] for _ in range(3)]
    assert statuses == [200, 429, 429]
    assert sum(shedder.statistics().admitted.values()) == 1
    clock.advance(1.0)
    _, headers, body = call(app, method="POST", IDEMPOTENCY_KEY="k")
    assert body == b"hi"
    assert headers.get("Idempotent-Replayed", headers.get("idempotent-replayed")) == "true"


def test_probes_are_never_rate_limited() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=1.0, burst=1, clock=clock)
    app = protect(hello, rate_limit=limiter, clock=clock)
    assert {call(app, "/readyz")[0] for _ in range(4)} == {200}


def test_the_rate_limit_arguments_are_checked() -> None:
    with pytest.raises(ConfigError, match="rate_limit must be"):
        protect(hello, rate_limit=3)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="rate_limit_key= applies"):
        protect(hello, rate_limit_key=lambda environ: "k")
