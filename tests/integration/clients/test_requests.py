"""seawall.requests against a real uvicorn server on 127.0.0.1 (through a resetting proxy).

Backoff sleeps run on a FakeClock where the test is about retries, so nothing sleeps
through a schedule; the sockets, statuses, resets and the hanging answer are real.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

import seawall
import seawall.requests
from seawall.testing import FakeClock

Server = tuple[str, Any, Any]


def test_a_post_through_503s_and_a_reset_carries_one_idempotency_key(recorder: Server) -> None:
    url, app, proxy = recorder
    with seawall.requests.Session(clock=FakeClock(), attempts=4) as session:
        response = session.post(f"{url}/fail/rq-post?n=2&close=1&reset=3", json={"amount": 5})
    assert response.status_code == 200
    seen = app.seen["rq-post"]
    assert [h["x-request-attempt"] for h in seen] == ["1", "2", "4"]
    reset = [head for head in proxy.resets if b"rq-post" in head]
    assert len(reset) == 1
    assert b"x-request-attempt: 3\r\n" in reset[0].lower()
    keys = {h["idempotency-key"] for h in seen}
    assert len(keys) == 1
    assert f"idempotency-key: {keys.pop()}".encode() in reset[0].lower()
    assert all(h["body"] == '{"amount": 5}' for h in seen)


def test_a_400_is_tried_once(recorder: Server) -> None:
    url, app, _ = recorder
    with seawall.requests.Session(clock=FakeClock()) as session:
        response = session.get(f"{url}/fail/rq-400?n=5&status=400")
    assert response.status_code == 400
    assert len(app.seen["rq-400"]) == 1


def test_a_503_that_says_do_not_retry_is_tried_once(recorder: Server) -> None:
    url, app, _ = recorder
    with seawall.requests.Session(clock=FakeClock()) as session:
        response = session.get(f"{url}/fail/rq-no-retry?n=5&no_retry=1")
    assert response.status_code == 503
    assert len(app.seen["rq-no-retry"]) == 1


def test_exhausted_retries_return_the_last_answer_or_raise(recorder: Server) -> None:
    url, _, _ = recorder
    with seawall.requests.Session(clock=FakeClock()) as session:
        response = session.get(f"{url}/fail/rq-last?n=9&retry_after=1")
    assert response.status_code == 503
    assert response.json() == {"attempt": 3}
    with seawall.requests.Session(clock=FakeClock(), raise_for_status=True) as session:
        with pytest.raises(seawall.requests.HTTPStatusError) as info:
            session.get(f"{url}/fail/rq-raise?n=9&retry_after=1")
    assert info.value.status_code == 503
    assert info.value.retry_after == 1.0


def test_retry_after_is_honoured(recorder: Server) -> None:
    url, _, _ = recorder
    clock = FakeClock()
    with seawall.requests.Session(clock=clock) as session, seawall.deadline(10.0, clock=clock):
        assert session.get(f"{url}/fail/rq-after?n=1&retry_after=3").status_code == 200
    assert clock.sleeps == [3.0]


def test_a_hanging_server_is_cut_at_the_deadline(recorder: Server) -> None:
    url, app, _ = recorder
    start = time.monotonic()
    with seawall.requests.Session() as session, seawall.deadline(0.4):
        with pytest.raises(requests.exceptions.ReadTimeout):
            session.get(f"{url}/fail/rq-hang?hang=1")
    elapsed = time.monotonic() - start
    assert 0.25 <= elapsed < 0.7
    sent = app.seen["rq-hang"]
    assert len(sent) == 1  # the next backoff would end past the deadline: no retry
    assert 250 <= int(sent[0]["x-request-timeout-ms"]) <= 360  # 0.4 s minus the reserve


def test_the_breaker_opens_and_its_statistics_are_readable(recorder: Server) -> None:
    url, app, _ = recorder
    options = {"min_calls": 4, "cooldown": 30.0}
    with seawall.requests.Session(clock=FakeClock(), attempts=1, breaker=options) as session:
        for n in range(4):
            assert session.get(f"{url}/fail/rq-brk{n}?n=1").status_code == 503
        with pytest.raises(seawall.CircuitOpen):
            session.get(f"{url}/fail/rq-never")
        stats = session.breaker_for(url).statistics()
        assert session.breaker_for("http://other.invalid").state == "closed"
    assert stats.state == "open"
    assert (stats.calls, stats.failures) == (4, 4)
    assert "rq-never" not in app.seen


def test_retried_responses_give_their_connection_back(recorder: Server) -> None:
    url, app, _ = recorder
    adapter = seawall.requests.Adapter(clock=FakeClock(), pool_maxsize=1)
    with requests.Session() as session:
        session.mount("http://", adapter)
        response = session.get(f"{url}/fail/rq-pool?n=2", stream=True)
        assert response.json() == {"attempt": 3}
        pools = adapter.poolmanager.pools  # not iterable itself: it is shared across threads
        (pool,) = (pools[key] for key in pools.keys())  # noqa: SIM118
        assert pool.num_connections == 1  # one connection, reused by all three attempts
    assert len(app.seen["rq-pool"]) == 3


def test_urllib3_never_retries_on_its_own(recorder: Server) -> None:
    adapter = seawall.requests.Adapter()
    assert adapter.max_retries.total == 0
    assert adapter.max_retries.read is False


def test_a_session_shows_its_host_policies_and_times_every_attempt(recorder: Server) -> None:
    from seawall import _durations

    url, _, _ = recorder
    _durations.CLIENT.clear()
    with seawall.requests.Session(clock=FakeClock(), name="rq-observed") as session:
        response = session.get(f"{url}/fail/rq-observed?n=1")
        policies = session.policies(url)
    assert response.status_code == 200
    assert policies.name == "rq-observed"
    assert policies.target == url.removeprefix("http://")
    assert policies.retry.calls_success_after_retry == 1
    statuses = sorted(r["status"] for r in _durations.CLIENT.rows() if r["name"] == "rq-observed")
    assert statuses == [200, 503]
