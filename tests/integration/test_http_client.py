"""The seawall httpx client against a real uvicorn server on 127.0.0.1.

Backoff sleeps run on a FakeClock so these tests never sleep through a schedule; the
server, the sockets and the failures (real statuses, a refused connection) are real.
"""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import httpx
import pytest

import seawall
from seawall.http import AsyncClient, Client, HTTPStatusError, parse_retry_after
from seawall.testing import FakeClock
from tests.integration.clients.servers import Recorder
from tests.integration.sockets import FaultServer


@pytest.fixture
def server(serve: Any) -> Any:
    app = Recorder()
    with serve(app) as url:
        yield url, app


def test_503_then_200_succeeds_on_attempt_2(server: Any) -> None:
    url, app = server
    with Client(clock=FakeClock()) as client:
        response = client.get(f"{url}/fail/a?n=1")
    assert response.status_code == 200
    assert [h["x-request-attempt"] for h in app.seen["a"]] == ["1", "2"]


def test_400_is_tried_exactly_once(server: Any) -> None:
    url, app = server
    with Client(clock=FakeClock()) as client:
        response = client.get(f"{url}/fail/b?n=5&status=400")
    assert response.status_code == 400
    assert len(app.seen["b"]) == 1


def test_exhausted_retries_return_the_last_response_or_raise(server: Any) -> None:
    url, app = server
    with Client(clock=FakeClock()) as client:
        assert client.get(f"{url}/fail/c?n=9").status_code == 503
    assert len(app.seen["c"]) == 3
    with Client(clock=FakeClock(), raise_for_status=True) as client:
        with pytest.raises(HTTPStatusError) as info:
            client.get(f"{url}/fail/c2?n=9&retry_after=1")
    assert info.value.status_code == 503
    assert info.value.retry_after == 1.0


def test_post_gets_one_idempotency_key_on_every_attempt(server: Any) -> None:
    url, app = server
    with Client(clock=FakeClock()) as client:
        response = client.post(f"{url}/fail/d?n=2", json={"amount": 5})
    assert response.status_code == 200
    keys = {h["idempotency-key"] for h in app.seen["d"]}
    assert len(app.seen["d"]) == 3
    assert len(keys) == 1
    assert all(h["body"] == '{"amount":5}' for h in app.seen["d"])


def test_post_without_a_key_is_not_retried_when_keys_are_off(server: Any) -> None:
    url, app = server
    with Client(clock=FakeClock(), idempotency_keys=False) as client:
        assert client.post(f"{url}/fail/e?n=1").status_code == 503
    assert len(app.seen["e"]) == 1
    assert "idempotency-key" not in app.seen["e"][0]


def test_a_callers_key_is_kept(server: Any) -> None:
    url, app = server
    with Client(clock=FakeClock()) as client:
        client.post(f"{url}/fail/f?n=1", headers={"Idempotency-Key": "mine"})
    assert [h["idempotency-key"] for h in app.seen["f"]] == ["mine", "mine"]


def test_retry_after_longer_than_the_budget_means_no_retry(server: Any) -> None:
    url, app = server
    clock = FakeClock()
    with Client(clock=clock) as client, seawall.deadline(2.0, clock=clock):
        response = client.get(f"{url}/fail/g?n=1&retry_after=30")
    assert response.status_code == 503
    assert len(app.seen["g"]) == 1
    assert clock.sleeps == []


def test_retry_after_that_fits_is_honoured(server: Any) -> None:
    url, _app = server
    clock = FakeClock()
    with Client(clock=clock) as client, seawall.deadline(10.0, clock=clock):
        assert client.get(f"{url}/fail/h?n=1&retry_after=3").status_code == 200
    assert clock.sleeps == [3.0]


def test_budget_and_priority_headers_are_sent(server: Any) -> None:
    url, app = server
    with Client() as client, seawall.deadline(2.0), seawall.priority("high"):
        client.get(f"{url}/fail/i")
    sent = app.seen["i"][0]
    assert 1000 < int(sent["x-request-timeout-ms"]) <= 1800  # 2 s minus the 10 % reserve
    assert sent["x-request-priority"] == "high"
    with Client() as client:
        client.get(f"{url}/fail/j")
    assert int(app.seen["j"][0]["x-request-timeout-ms"]) == 5000  # the HTTP default cap


def test_connection_refused_is_retried_then_raised() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound but never listening: connections are refused
        clock = FakeClock()
        with Client(clock=clock) as client, pytest.raises(httpx.ConnectError) as info:
            client.get(f"http://127.0.0.1:{port}/")
    assert len(clock.sleeps) == 2
    assert "gave up after 3 attempts" in " ".join(info.value.__notes__)


def test_a_breaker_per_host_opens_and_fails_fast(server: Any) -> None:
    url, app = server
    clock = FakeClock()
    options = {"min_calls": 4, "cooldown": 30.0}
    with Client(clock=clock, attempts=1, breaker=options) as client:
        for n in range(4):
            assert client.get(f"{url}/fail/k{n}?n=1").status_code == 503
        with pytest.raises(seawall.CircuitOpen):
            client.get(f"{url}/fail/never")
        transport = client._transport
        assert transport.breaker_for(url).state == "open"  # type: ignore[attr-defined]
        assert transport.breaker_for("http://other.invalid").state == "closed"  # type: ignore[attr-defined]
    assert "never" not in app.seen


def test_the_total_bounds_a_real_hanging_server(hanging_server: FaultServer) -> None:
    # The defaults (5 s per attempt, 10 s in all) scaled down 25x, on a socket that
    # accepts and never answers: 0.2 s, a 0.1 s backoff, then what the 0.5 s total
    # leaves (0.2 s) minus the 50 ms reserve; the next backoff would end past the total.
    before = len(hanging_server.requests)
    client = Client(timeout=0.2, total_timeout=0.5, backoff=seawall.Backoff.constant(0.1))
    start = time.monotonic()
    with client, pytest.raises(httpx.ReadTimeout) as info:
        client.get(f"{hanging_server.url}/total")
    elapsed = time.monotonic() - start
    assert 0.4 <= elapsed < 0.75
    assert len(hanging_server.requests) - before == 2
    budgets = [int(hanging_server.headers(before + n)["x-request-timeout-ms"]) for n in (0, 1)]
    assert budgets[0] == 200
    assert 100 <= budgets[1] <= 150  # what the total left, not another 200
    assert "past the deadline" in " ".join(info.value.__notes__)


def test_spent_deadline_sends_nothing(server: Any) -> None:
    url, app = server
    clock = FakeClock()
    with Client(clock=clock) as client, seawall.deadline(1.0, clock=clock):
        clock.advance(1.0)
        with pytest.raises(seawall.DeadlineExceeded):
            client.get(f"{url}/fail/l")
    assert "l" not in app.seen


def test_async_client_follows_the_same_rules(server: Any) -> None:
    url, app = server

    async def main() -> None:
        async with AsyncClient(clock=FakeClock()) as client:
            assert (await client.get(f"{url}/fail/m?n=2")).status_code == 200
            assert (await client.get(f"{url}/fail/n?n=3&status=404")).status_code == 404
            await client.post(f"{url}/fail/o?n=1")

    asyncio.run(main())
    assert len(app.seen["m"]) == 3
    assert len(app.seen["n"]) == 1
    assert len({h["idempotency-key"] for h in app.seen["o"]}) == 1
    assert len(app.seen["o"]) == 2


def test_unknown_options_are_refused() -> None:
    with pytest.raises(TypeError, match="retries"):
        seawall.http.Transport(retries=3)


def test_parse_retry_after() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    when = parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0)
    assert when == 10.0
