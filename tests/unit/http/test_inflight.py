"""What a drain does to each in-flight request, in-process (no server, no sleeping)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from seawall.http._inflight import InFlight

Message = dict[str, Any]


class Handler:
    """An app whose requests wait on ``release``; ``/stream`` is an event stream."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.entered = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.entered += 1
        if scope["path"] == "/stream":
            headers = [(b"content-type", b"text/event-stream; charset=utf-8")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            while True:
                await send(
                    {"type": "http.response.body", "body": b"data: x\n\n", "more_body": True}
                )
                await asyncio.sleep(0)
        if scope["path"] == "/started":
            await send({"type": "http.response.start", "status": 200, "headers": []})
        await self.release.wait()
        if scope["path"] != "/started":
            await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"done"})


async def request(app: InFlight, path: str, sent: list[Message]) -> str:
    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    try:
        await app({"type": "http", "path": path, "headers": []}, receive, send)
    except asyncio.CancelledError:
        return "aborted"
    return "returned"


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_requests_that_finish_during_the_drain_are_counted_finished() -> None:
    async def main() -> None:
        handler = Handler()
        app = InFlight(handler)
        sent: list[Message] = []
        tasks = [asyncio.create_task(request(app, "/work", sent)) for _ in range(3)]
        await settle()
        assert app.running == 3
        assert app.begin_drain() == 0
        handler.release.set()
        assert await asyncio.gather(*tasks) == ["returned"] * 3
        assert (app.finished, app.cut, app.running) == (3, 0, 0)

    asyncio.run(main())


def test_cut_requests_get_503_before_answering_and_are_aborted_after() -> None:
    async def main() -> None:
        app = InFlight(Handler())
        waiting: list[Message] = []
        started: list[Message] = []
        first = asyncio.create_task(request(app, "/work", waiting))
        second = asyncio.create_task(request(app, "/started", started))
        await settle()
        app.begin_drain()
        assert app.cut_all() == 2
        assert await first == "returned"
        assert await second == "aborted"  # the server closes the connection
        assert waiting[0]["status"] == 503
        assert (b"connection", b"close") in waiting[0]["headers"]
        assert (app.cut, app.finished) == (2, 0)
        assert first.cancelling() == 0  # the cancellation was taken back

    asyncio.run(main())


def test_event_streams_end_cleanly_at_the_drain_and_are_not_cut() -> None:
    async def main() -> None:
        handler = Handler()
        app = InFlight(handler)
        sent: list[Message] = []
        task = asyncio.create_task(request(app, "/stream", sent))
        await settle()
        assert app.running == 0  # a stream is not a request the drain waits for
        assert app.begin_drain() == 1
        assert await task == "returned"
        assert sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}
        assert (app.streams_closed, app.cut) == (1, 0)

    asyncio.run(main())


def test_an_event_stream_opened_during_the_drain_is_ended_at_once() -> None:
    async def main() -> None:
        app = InFlight(Handler())
        app.begin_drain()
        sent: list[Message] = []
        assert await request(app, "/stream", sent) == "returned"
        assert sent[0]["status"] == 200
        assert sent[-1]["more_body"] is False
        assert len(sent) <= 3
        assert app.streams_closed == 1

    asyncio.run(main())


def test_abandoned_requests_count_as_cut() -> None:
    async def main() -> None:
        app = InFlight(Handler())
        task = asyncio.create_task(request(app, "/work", []))
        await settle()
        assert app.abandon() == 1
        assert app.cut == 1
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(main())


@pytest.mark.parametrize(("draining", "kept"), [(False, True), (True, False)])
def test_the_traceback_of_a_drain_cancellation_is_dropped(draining: bool, kept: bool) -> None:
    app = InFlight(Handler())
    app.draining = draining
    error = asyncio.CancelledError()
    record = logging.LogRecord(
        "uvicorn.error", logging.ERROR, __file__, 1, "Exception in ASGI application\n", None,
        (type(error), error, None),
    )  # fmt: skip
    assert app.cancellation_filter().filter(record) is kept
    other = logging.LogRecord("uvicorn.error", logging.ERROR, __file__, 1, "boom", None, None)
    assert app.cancellation_filter().filter(other) is True
