"""seawall.aiohttp against a real uvicorn server on 127.0.0.1 (through a resetting proxy):
the same retry, idempotency and deadline checks as seawall.requests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest

import seawall
import seawall.aiohttp
from seawall._transient import dependency_failed
from seawall.testing import FakeClock

Server = tuple[str, Any, Any]


def _run(fn: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(fn())  # type: ignore[arg-type]


def test_a_post_through_503s_and_a_reset_carries_one_idempotency_key(recorder: Server) -> None:
    url, app, proxy = recorder

    async def main() -> tuple[int, Any]:
        async with seawall.aiohttp.ClientSession(clock=FakeClock(), attempts=4) as session:
            target = f"{url}/fail/ah-post?n=2&close=1&reset=3"
            async with session.post(target, json={"amount": 5}) as response:
                return response.status, await response.json()

    assert _run(main) == (200, {"attempt": 3})
    seen = app.seen["ah-post"]
    assert [h["x-request-attempt"] for h in seen] == ["1", "2", "4"]
    reset = [head for head in proxy.resets if b"ah-post" in head]
    assert len(reset) == 1
    keys = {h["idempotency-key"] for h in seen}
    assert len(keys) == 1
    assert f"idempotency-key: {keys.pop()}".encode() in reset[0].lower()
    assert all(h["body"] == '{"amount": 5}' for h in seen)


def test_a_400_is_tried_once_and_exhausted_retries_return_the_last_answer(
    recorder: Server,
) -> None:
    url, app, _ = recorder

    async def main() -> list[tuple[int, Any]]:
        async with seawall.aiohttp.ClientSession(clock=FakeClock()) as session:
            answers = []
            for path in ("ah-400?n=5&status=400", "ah-last?n=9", "ah-no-retry?n=9&no_retry=1"):
                async with session.get(f"{url}/fail/{path}") as response:
                    answers.append((response.status, await response.json()))
            return answers

    # a 503 that says "X-Request-Retry: no" is tried once, as a 400 is
    assert _run(main) == [(400, {"attempt": 1}), (503, {"attempt": 3}), (503, {"attempt": 1})]
    assert len(app.seen["ah-400"]) == 1


def test_retry_after_is_honoured(recorder: Server) -> None:
    url, _, _ = recorder
    clock = FakeClock()

    async def main() -> int:
        async with seawall.aiohttp.ClientSession(clock=clock) as session:
            with seawall.deadline(10.0, clock=clock):
                async with session.get(f"{url}/fail/ah-after?n=1&retry_after=3") as response:
                    return response.status

    assert _run(main) == 200
    assert clock.sleeps == [3.0]


def test_a_hanging_server_is_cut_at_the_deadline(recorder: Server) -> None:
    url, app, _ = recorder

    async def main() -> None:
        async with seawall.aiohttp.ClientSession() as session:
            with seawall.deadline(0.4):
                await session.get(f"{url}/fail/ah-hang?hang=1")

    start = time.monotonic()
    with pytest.raises(TimeoutError):
        _run(main)
    elapsed = time.monotonic() - start
    assert 0.25 <= elapsed < 0.7
    sent = app.seen["ah-hang"]
    assert len(sent) == 1  # the next backoff would end past the deadline: no retry
    assert 250 <= int(sent[0]["x-request-timeout-ms"]) <= 360  # 0.4 s minus the reserve


def test_the_breaker_opens_and_its_statistics_are_readable(recorder: Server) -> None:
    url, app, _ = recorder
    middleware = seawall.aiohttp.Middleware(
        clock=FakeClock(), attempts=1, breaker={"min_calls": 4, "cooldown": 30.0}
    )

    async def main() -> None:
        async with aiohttp.ClientSession(middlewares=(middleware,)) as session:
            for n in range(4):
                async with session.get(f"{url}/fail/ah-brk{n}?n=1") as response:
                    assert response.status == 503
            with pytest.raises(seawall.CircuitOpen):
                await session.get(f"{url}/fail/ah-never")

    _run(main)
    stats = middleware.breaker_for(url).statistics()
    assert (stats.state, stats.calls, stats.failures) == ("open", 4, 4)
    assert "ah-never" not in app.seen


def test_aiohttp_response_errors_are_judged_by_their_status(recorder: Server) -> None:
    # aiohttp's own raise_for_status: a ClientResponseError carrying the status.
    url, _, _ = recorder

    async def error(path: str) -> aiohttp.ClientResponseError:
        async with aiohttp.ClientSession(raise_for_status=True) as session:
            with pytest.raises(aiohttp.ClientResponseError) as info:
                await session.get(f"{url}/fail/{path}")
            return info.value

    unavailable = asyncio.run(error("ah-e503?n=1"))
    too_many = asyncio.run(error("ah-e429?n=1&status=429"))
    missing = asyncio.run(error("ah-e404?n=1&status=404"))
    assert seawall.transient(unavailable)
    assert seawall.transient(too_many)
    assert not seawall.transient(missing)
    assert dependency_failed(unavailable)
    assert not dependency_failed(missing)  # the dependency is up and answering


def test_the_middleware_shows_its_host_policies_and_times_every_attempt(recorder: Server) -> None:
    import aiohttp

    from seawall import _durations

    url, _, _ = recorder
    _durations.CLIENT.clear()
    middleware = seawall.aiohttp.Middleware(clock=FakeClock(), name="ah-observed")

    async def main() -> int:
        async with aiohttp.ClientSession(middlewares=(middleware,)) as session:
            async with session.get(f"{url}/fail/ah-observed?n=1") as response:
                return response.status

    assert _run(main) == 200
    policies = middleware.policies(url)
    assert (policies.name, policies.target) == ("ah-observed", url.removeprefix("http://"))
    statuses = sorted(r["status"] for r in _durations.CLIENT.rows() if r["name"] == "ah-observed")
    assert statuses == [200, 503]
