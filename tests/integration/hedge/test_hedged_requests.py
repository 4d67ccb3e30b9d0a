"""Hedged ``requests`` calls against a real uvicorn server on 127.0.0.1.

The same slow-2 % server as the httpx test. ``requests`` cannot be interrupted, so the
sync form hedges on the Hedge's bounded thread pool and abandons the loser: it runs to
its end on a worker and its answer is dropped, while the caller already has the hedge's.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from seawall.requests import Session
from tests.integration.hedge.test_hedged_http import (
    OPERATIONS,
    SLOW,
    SLOW_EVERY,
    SlowTwoPercent,
    p99,
)


def _operations(url: str, **options: Any) -> tuple[list[float], list[str], Any]:
    latencies: list[float] = []
    answers: list[str] = []
    with Session(**options) as session:
        for n in range(OPERATIONS):
            started = time.perf_counter()
            response = session.post(f"{url}/charge", data=f"{n}")
            latencies.append(time.perf_counter() - started)
            answers.append(response.text)
        hedge = session.hedge_for(url)
        if hedge is not None:
            hedge.close()
    return latencies, answers, hedge


@pytest.mark.integration
def test_hedged_requests_session_cuts_p99_with_one_key_per_operation(serve: Any) -> None:
    plain_app, hedged_app = SlowTwoPercent(), SlowTwoPercent()
    with serve(plain_app) as url:
        plain, _, none = _operations(url)
    assert none is None
    with serve(hedged_app) as url:
        host = url.removeprefix("http://")
        hedged, answers, hedge = _operations(url, hedge={host: {"delay": 0.1, "budget": False}})
    slow_ops = OPERATIONS // SLOW_EVERY
    assert p99(plain) >= SLOW
    assert p99(hedged) < SLOW / 2
    # One key per operation; a hedged operation's two requests share it.
    assert len(hedged_app.keys) == OPERATIONS
    assert sorted(hedged_app.keys.values()) == [1] * (OPERATIONS - slow_ops) + [2] * slow_ops
    assert len(set(answers)) == OPERATIONS
    # The losers were abandoned to the pool: counted, and their answers never returned.
    assert hedge.hedges_won == slow_ops
    assert hedge.losers_cancelled == slow_ops
    assert hedge.attempts_hedge == slow_ops
