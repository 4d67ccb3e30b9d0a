"""Hedged HTTP requests against a real uvicorn server on 127.0.0.1.

The server answers every 50th request half a second late (a slow 2 %); the rest in a
few milliseconds. The hedged client sends a copy of a late request after 100 ms, takes
the first answer and cancels the loser: its connection is closed, and the server app
sees ``http.disconnect`` on the slow request. Every operation carries one
Idempotency-Key, the same on its hedge.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from typing import Any

import pytest

from seawall.http import AsyncClient

SLOW_EVERY = 50
SLOW = 0.5
OPERATIONS = 100


class SlowTwoPercent:
    """An ASGI app: every 50th request is slow, and it notes a client that leaves."""

    def __init__(self) -> None:
        self.requests = 0
        self.keys: Counter[str] = Counter()
        self.disconnected: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        headers = dict(scope["headers"])
        key = headers.get(b"idempotency-key", b"").decode()
        while (await receive()).get("more_body"):
            pass
        self.requests += 1
        self.keys[key] += 1
        if self.requests % SLOW_EVERY == SLOW_EVERY // 2:
            # Wait out the slow answer, listening for the client: once the body is read,
            # the next receive() returns only when the client closes the connection.
            left = asyncio.ensure_future(receive())
            done, _ = await asyncio.wait({left}, timeout=SLOW)
            if done and left.result()["type"] == "http.disconnect":
                self.disconnected.append(key)
                return
            left.cancel()
        else:
            await asyncio.sleep(0.003)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": key.encode()})


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(0.99 * len(ordered)) - 1]


async def operations(url: str, **options: Any) -> tuple[list[float], list[str], Any]:
    latencies: list[float] = []
    answers: list[str] = []
    async with AsyncClient(**options) as client:
        for n in range(OPERATIONS):
            started = time.perf_counter()
            response = await client.post(f"{url}/charge", content=f"{n}")
            latencies.append(time.perf_counter() - started)
            answers.append(response.text)
        await asyncio.sleep(0.05)  # the last loser's cancellation reaches the server
        return latencies, answers, client._transport.hedge_for(url)  # type: ignore[attr-defined]


@pytest.mark.integration
def test_hedged_client_cuts_p99_with_one_key_per_operation_and_cancels_losers(
    serve: Any,
) -> None:
    plain_app, hedged_app = SlowTwoPercent(), SlowTwoPercent()
    with serve(plain_app) as url:
        plain, _, none = asyncio.run(operations(url))
    assert none is None
    with serve(hedged_app) as url:
        host = url.removeprefix("http://")
        hedged, answers, hedge = asyncio.run(
            operations(url, hedge={host: {"delay": 0.1, "budget": False}})
        )
    slow_ops = OPERATIONS // SLOW_EVERY
    assert p99(plain) >= SLOW
    assert p99(hedged) < SLOW / 2
    # One key per operation; a hedged operation's two requests share it.
    assert len(hedged_app.keys) == OPERATIONS
    assert sorted(hedged_app.keys.values()) == [1] * (OPERATIONS - slow_ops) + [2] * slow_ops
    assert len(set(answers)) == OPERATIONS
    # The losers were cancelled: the client closed them and the server saw it.
    assert hedge.losers_cancelled == slow_ops
    assert hedge.hedges_won == slow_ops
    assert sorted(hedged_app.disconnected) == sorted(
        k for k, n in hedged_app.keys.items() if n == 2
    )
