"""The fused server edge: alarms armed where a handler suspends, one send wrapper, parity.

``protect()`` runs every step in one ASGI callable (``seawall.http._edge.Edge``). These
tests pin what that must not change: a handler that suspends is still cancelled at its
deadline (also while queued for a permit), one that never suspends needs no alarm,
cancellation from elsewhere is not a 504, and X-Degraded survives an idempotent replay.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import types
import weakref
from collections.abc import Generator
from typing import Any

import httpx
import pytest

import seawall
import seawall.http
from seawall import _alarm
from seawall.http._edge import _Resumed
from seawall.stores import MemoryStore
from seawall.testing import FakeClock, capture_events

Scope = dict[str, Any]


def _scope(
    method: str = "GET", path: str = "/", headers: list[tuple[bytes, bytes]] | None = None
) -> Scope:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers or [],
    }


async def _call(app: Any, scope: Scope, body: bytes = b"") -> list[dict[str, Any]]:
    """Run one request through ``app`` in the current task; the messages it sent."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


async def ok(scope: Scope, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def _status(sent: list[dict[str, Any]]) -> int:
    return int(sent[0]["status"])


def test_a_handler_that_never_suspends_arms_no_alarm() -> None:
    async def go() -> tuple[int, bool]:
        app = seawall.http.protect(ok)
        sent = await _call(app, _scope())
        watchdog = _alarm._watchdogs.get(asyncio.get_running_loop())
        return _status(sent), watchdog is not None and bool(watchdog.buckets)

    status, armed = asyncio.run(go())
    assert status == 200
    assert not armed


def test_every_scope_is_closed_after_the_request() -> None:
    async def go() -> list[Any]:
        app = seawall.http.protect(ok)
        priority = [(b"x-request-priority", b"high")]
        await _call(app, _scope(headers=priority))  # finishes without suspending
        await _call(app, _scope(path="/livez"))
        return [seawall.remaining(), seawall.current_priority()]

    assert asyncio.run(go()) == [None, None]


class _ServerSend:
    """A server's send that, like uvicorn's, schedules its keep-alive timer in the last send.

    ``loop.call_later`` copies the current context into the timer, and the timer keeps
    it (cancelled or not) until the loop drops it.
    """

    def __init__(self, timers: list[asyncio.TimerHandle]) -> None:
        self.timers = timers

    async def __call__(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            self.timers.append(asyncio.get_running_loop().call_later(3600, lambda: None))


@pytest.mark.parametrize("suspends", [False, True])
def test_a_context_copied_during_the_request_does_not_keep_the_server_send(
    suspends: bool,
) -> None:
    async def handler(scope: Scope, receive: Any, send: Any) -> None:
        if suspends:
            await asyncio.sleep(0)
        await ok(scope, receive, send)

    async def go() -> tuple[bool, bool]:
        app = seawall.http.protect(handler)
        timers: list[asyncio.TimerHandle] = []
        server_send = _ServerSend(timers)
        gone = weakref.ref(server_send)

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        await app(_scope(), receive, server_send)
        del server_send
        kept = gone() is not None
        for timer in timers:
            timer.cancel()
        return bool(timers), kept

    scheduled, kept = asyncio.run(go())
    assert scheduled
    # Kept alive, each request's connection state would outlive it by the keep-alive
    # timeout and pile up in the collector's older generations.
    assert not kept


def test_a_send_after_the_request_ended_is_an_error() -> None:
    kept: list[Any] = []

    async def handler(scope: Scope, receive: Any, send: Any) -> None:
        kept.append(send)
        await ok(scope, receive, send)

    async def go() -> None:
        await _call(seawall.http.protect(handler), _scope())
        await kept[0]({"type": "http.response.body", "body": b"late"})

    with pytest.raises(RuntimeError, match="after the request ended"):
        asyncio.run(go())


def test_a_handler_that_suspends_is_resumed_faithfully() -> None:
    async def chatty(scope: Scope, receive: Any, send: Any) -> None:
        seen = []
        for i in range(3):
            await asyncio.sleep(0)  # a bare yield to the loop
            seen.append(i)
        await asyncio.sleep(0.001)  # a real future
        message = await receive()
        assert seawall.remaining() is not None
        body = json.dumps({"seen": seen, "body": message["body"].decode()}).encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    async def go() -> tuple[list[dict[str, Any]], bool]:
        sent = await _call(seawall.http.protect(chatty), _scope("PUT"), b"hello")
        watchdog = _alarm._watchdogs[asyncio.get_running_loop()]
        # Armed at the first suspension, disarmed at the end: nothing left to fire.
        return sent, any(watchdog.buckets.values())

    sent, pending = asyncio.run(go())
    assert _status(sent) == 200
    assert json.loads(sent[1]["body"]) == {"seen": [0, 1, 2], "body": "hello"}
    assert not pending


def test_a_suspended_handler_past_its_deadline_is_cancelled_with_504() -> None:
    cancelled = []

    async def slow(scope: Scope, receive: Any, send: Any) -> None:
        await asyncio.sleep(0)
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    sent = asyncio.run(
        _call(seawall.http.protect(slow), _scope(headers=[(b"x-request-timeout-ms", b"20")]))
    )
    assert _status(sent) == 504
    assert cancelled == [True]


def test_a_handler_that_swallows_the_cancellation_still_gets_504() -> None:
    async def stubborn(scope: Scope, receive: Any, send: Any) -> None:
        # Bad manners: the edge must still answer for the deadline.
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(5)

    sent = asyncio.run(
        _call(seawall.http.protect(stubborn), _scope(headers=[(b"x-request-timeout-ms", b"20")]))
    )
    assert _status(sent) == 504


def test_cancellation_from_elsewhere_is_not_a_deadline() -> None:
    async def go() -> None:
        started = asyncio.Event()

        async def waits(scope: Scope, receive: Any, send: Any) -> None:
            started.set()
            await asyncio.Event().wait()

        task = asyncio.ensure_future(_call(seawall.http.protect(waits), _scope()))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(go())


def test_errors_after_a_suspension_propagate() -> None:
    async def broken(scope: Scope, receive: Any, send: Any) -> None:
        await asyncio.sleep(0)
        raise KeyError("boom")

    with pytest.raises(KeyError):
        asyncio.run(_call(seawall.http.protect(broken), _scope()))


def test_errors_before_any_suspension_propagate() -> None:
    async def broken(scope: Scope, receive: Any, send: Any) -> None:
        raise KeyError("boom")

    with pytest.raises(KeyError):
        asyncio.run(_call(seawall.http.protect(broken), _scope()))


def test_a_handler_that_returns_a_value_without_suspending_is_served() -> None:
    async def returns(scope: Scope, receive: Any, send: Any) -> Any:
        await ok(scope, receive, send)
        return "ignored"

    sent = asyncio.run(_call(seawall.http.protect(returns), _scope()))
    assert _status(sent) == 200
    assert sent[1]["body"] == b"ok"


def test_an_app_returning_a_plain_awaitable_is_served() -> None:
    class Handle:
        def __call__(self, scope: Scope, receive: Any, send: Any) -> Any:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

            async def respond() -> None:
                await ok(scope, receive, send)
                future.set_result(None)

            self.responder = asyncio.ensure_future(respond())
            return future  # an awaitable that is not a coroutine

    sent = asyncio.run(_call(seawall.http.protect(Handle()), _scope()))
    assert _status(sent) == 200


@types.coroutine
def _exchange(values: list[Any]) -> Generator[str, Any, str]:
    received = yield "first"
    values.append(received)
    try:
        received = yield "second"
    except ValueError as exc:
        values.append(f"caught {exc}")
        received = yield "third"
    values.append(received)
    return "done"


async def _driven(values: list[Any]) -> None:
    values.append(await _exchange(values))


def test_resumed_forwards_sends_and_throws_like_await() -> None:
    values: list[Any] = []
    coro = _driven(values)
    assert coro.send(None) == "first"
    rest = _Resumed(coro, "first").__await__()
    assert next(rest) == "first"  # waits on what the first step suspended on
    assert rest.send("a") == "second"  # a non-None send goes straight to the coroutine
    assert rest.throw(ValueError("x")) == "third"
    with pytest.raises(StopIteration):
        rest.send(None)  # handed back to yield from, which finishes it
    assert values == ["a", "caught x", None, "done"]


def test_the_queue_wait_counts_against_the_deadline() -> None:
    shedder = seawall.LoadShedder("t", limit=1, max_queue=4, queue_target=10.0, queue_interval=10.0)
    gate = asyncio.Event()

    async def held(scope: Scope, receive: Any, send: Any) -> None:
        if scope["path"] == "/hold":
            await gate.wait()
        await ok(scope, receive, send)

    app = seawall.http.protect(held, shedder=shedder, idempotency=False)

    async def go() -> tuple[int, int, float, int]:
        loop = asyncio.get_running_loop()
        holder = asyncio.ensure_future(_call(app, _scope(path="/hold")))
        await asyncio.sleep(0)
        start = loop.time()
        queued = await _call(app, _scope(headers=[(b"x-request-timeout-ms", b"30")]))
        waited = loop.time() - start
        probe = await _call(app, _scope(path="/livez"))  # probes are never queued
        gate.set()
        return _status(await holder), _status(queued), waited, _status(probe)

    holder, queued, waited, probe = asyncio.run(go())
    assert holder == 200
    # Refused (the queue gives up at the deadline) or timed out, never served late.
    assert queued in (503, 504)
    assert waited < 0.5
    assert probe == 200
    assert shedder.statistics().inflight == 0


def test_x_degraded_once_on_first_answer_and_on_replay() -> None:
    async def page(scope: Scope, receive: Any, send: Any) -> None:
        async def recommendations() -> list[str]:
            raise ConnectionError("recs down")

        await receive()
        await seawall.partial({"recs": seawall.optional(recommendations, default=[])})
        await ok(scope, receive, send)

    app = seawall.http.protect(page, idempotency=MemoryStore())

    async def go() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            keyed = {"Idempotency-Key": "k-1"}
            return [
                await client.post("/orders", headers=keyed, content=b"{}"),
                await client.post("/orders", headers=keyed, content=b"{}"),
                await client.get("/"),
            ]

    first, replay, plain = asyncio.run(go())
    for response in (first, replay, plain):
        assert response.status_code == 200
        assert response.headers.get_list("x-degraded") == ["recs"]
    assert replay.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers


def test_standalone_middlewares_are_single_steps() -> None:
    async def go() -> dict[str, int]:
        spent = [(b"x-request-timeout-ms", b"0")]
        bad_priority = [(b"x-request-priority", b"urgent")]
        return {
            # Deadline only: spent budgets are refused, priorities are not read.
            "deadline/spent": _status(
                await _call(seawall.http.DeadlineMiddleware(ok), _scope(headers=spent))
            ),
            "deadline/priority": _status(
                await _call(seawall.http.DeadlineMiddleware(ok), _scope(headers=bad_priority))
            ),
            # Shedding only: budgets are not read, priorities are.
            "shedding/spent": _status(
                await _call(seawall.http.SheddingMiddleware(ok), _scope(headers=spent))
            ),
            "shedding/priority": _status(
                await _call(seawall.http.SheddingMiddleware(ok), _scope(headers=bad_priority))
            ),
            # Health only: probes answered, the rest passed through untouched.
            "health/livez": _status(
                await _call(seawall.http.HealthMiddleware(ok), _scope(path="/livez"))
            ),
            "health/other": _status(
                await _call(seawall.http.HealthMiddleware(ok), _scope(headers=spent))
            ),
        }

    assert asyncio.run(go()) == {
        "deadline/spent": 504,
        "deadline/priority": 200,
        "shedding/spent": 200,
        "shedding/priority": 400,
        "health/livez": 200,
        "health/other": 200,
    }


class _Trap:
    """What a non-asyncio loop (trio) has coroutines yield: a value it answers with a send."""

    def __await__(self) -> Generator[str, str, str]:
        answer = yield "trap"
        return answer


def test_off_asyncio_the_deadline_is_cooperative_and_the_handler_still_runs() -> None:
    seen: list[Any] = []

    async def foreign(scope: Scope, receive: Any, send: Any) -> None:
        seen.append(await _Trap())
        seen.append(seawall.remaining() is not None)
        await ok(scope, receive, send)

    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    # Driven by hand, as another event loop would: no asyncio loop, so no alarm to arm.
    request = seawall.http.protect(foreign)(_scope(), receive, send)
    assert request.send(None) == "trap"
    with pytest.raises(StopIteration):
        request.send("answered")
    assert seen == ["answered", True]
    assert _status(sent) == 200


def test_header_names_match_in_any_case() -> None:
    """ASGI asks servers for lower-case names but does not require it."""

    async def charge(scope: Scope, receive: Any, send: Any) -> None:
        await receive()
        charges.append(1)
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": str(len(charges)).encode()})

    charges: list[int] = []
    app = seawall.http.protect(charge, idempotency=MemoryStore())

    def post(*headers: tuple[bytes, bytes]) -> list[dict[str, Any]]:
        return asyncio.run(_call(app, _scope("POST", "/charges", list(headers)), b"{}"))

    assert _status(post((b"X-Request-Timeout-Ms", b"0"))) == 504
    assert _status(post((b"X-REQUEST-PRIORITY", b"urgent"))) == 400
    alice = (b"Authorization", b"Bearer alice")
    first = post((b"Idempotency-Key", b"k1"), alice)
    replay = post((b"IDEMPOTENCY-KEY", b"k1"), alice)
    bob = post((b"Idempotency-Key", b"k1"), (b"AUTHORIZATION", b"Bearer bob"))
    assert [_status(first), _status(replay), _status(bob)] == [201, 201, 201]
    assert (b"idempotent-replayed", b"true") in replay[0]["headers"]
    assert first[1]["body"] == replay[1]["body"] == b"1"
    assert bob[1]["body"] == b"2"  # another principal: its own run, never alice's answer
    assert charges == [1, 1]


def test_an_overrun_is_counted_and_reported_by_the_edges_timeout_core() -> None:
    clock = FakeClock()

    async def slow(scope: Scope, receive: Any, send: Any) -> None:
        await asyncio.sleep(0)  # the alarm is armed where the handler first suspends
        await clock.asleep(10.0)

    app = seawall.http.protect(slow, clock=clock)
    with capture_events() as events:
        sent = asyncio.run(_call(app, _scope(headers=[(b"x-request-timeout-ms", b"250")])))
    assert _status(sent) == 504
    assert clock.now() == 0.25  # cancelled by the clock's alarm, exactly at the deadline
    assert app.timeout.timeouts == 1
    [timed_out] = [e for e in events if isinstance(e, seawall.TimedOut)]
    assert (timed_out.policy, timed_out.name, timed_out.at) == ("http", "request", 0.25)


def test_a_cancellation_from_elsewhere_is_not_counted_as_a_timeout() -> None:
    async def go() -> Any:
        started = asyncio.Event()

        async def waits(scope: Scope, receive: Any, send: Any) -> None:
            started.set()
            await asyncio.Event().wait()

        app = seawall.http.protect(waits)
        task = asyncio.ensure_future(_call(app, _scope()))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return app

    assert asyncio.run(go()).timeout.timeouts == 0
