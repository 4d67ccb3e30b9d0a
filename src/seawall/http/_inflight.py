"""The requests a server is running, so that its shutdown can say what it cut.

A supervisor (Kubernetes, systemd, a deploy script) learns how a shutdown went from the
exit code and the log. A shutdown that cancels requests still running at its timeout
has lost work: the clients saw errors, and the side effects of those requests may be
half done. So the server counts them, answers the ones that had not started their
response with 503 (retry elsewhere, as the server is going away), aborts the ones that
had, and reports the count once instead of a traceback per request.

Server-sent events (``text/event-stream``) are different: a stream never finishes by
itself, and its clients reconnect by design. At the drain such streams are ended
cleanly (the last chunk is sent) and counted apart: closing them is the shutdown
working, not work lost.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Literal

from seawall.http._asgi import ASGIApp, Message, Receive, Scope, Send, send_problem

__all__ = ["InFlight"]

_EVENT_STREAM = b"text/event-stream"


@dataclass(eq=False, slots=True)
class _Request:
    task: asyncio.Task[object] | None
    started: bool = False
    complete: bool = False
    stream: bool = False
    ending: Literal["stream", "cut"] | None = None

    def end(self, how: Literal["stream", "cut"]) -> None:
        self.ending = how
        if self.task is not None:
            self.task.cancel(f"seawall shutdown: {how}")


class InFlight:
    """Wrap ``app`` and track its HTTP requests through a server's drain.

    ``finished`` counts requests that completed after :meth:`begin_drain`; ``cut`` the
    requests :meth:`cut_all` cancelled or :meth:`abandon` gave up on; ``streams_closed``
    the event streams the drain ended.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.draining = False
        self.finished = 0
        self.cut = 0
        self.streams_closed = 0
        self._running: set[_Request] = set()

    @property
    def running(self) -> int:
        """Requests still running, event streams excluded."""
        return sum(1 for r in self._running if not r.stream and r.ending != "stream")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        task = asyncio.current_task()
        request = _Request(task)
        self._running.add(request)

        async def tracked(message: Message) -> None:
            kind = message["type"]
            if kind == "http.response.start":
                request.started = True
                request.stream = _is_event_stream(message)
                if request.stream and self.draining and request.ending is None:
                    await send(message)
                    request.end("stream")  # opened during the drain: end it at once
                    return
            elif kind == "http.response.body" and not message.get("more_body", False):
                request.complete = True
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except asyncio.CancelledError:
            if request.ending is None:
                raise
            if task is not None:
                task.uncancel()
            if request.ending == "stream":
                self.streams_closed += 1
                if not request.complete:
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            if request.started:
                raise  # the server aborts the connection: a truncated answer is no answer
            await send_problem(
                send,
                503,
                "Shutting down",
                "the server stopped before this request finished; retry it",
                retry_after=1.0,
                headers=[(b"connection", b"close")],
            )
        else:
            if request.ending == "stream":
                self.streams_closed += 1
            elif self.draining and request.ending is None:
                self.finished += 1
        finally:
            self._running.discard(request)

    def begin_drain(self) -> int:
        """The server stopped accepting: end open event streams; returns how many."""
        self.draining = True
        streams = [r for r in self._running if r.stream and not r.complete and r.ending is None]
        for request in streams:
            request.end("stream")
        return len(streams)

    def cut_all(self) -> int:
        """The shutdown timeout passed: cancel every request still running."""
        cut = [r for r in self._running if r.ending is None]
        for request in cut:
            request.end("cut")
        self.cut += len(cut)
        return len(cut)

    def abandon(self) -> int:
        """The process exits now (a second signal): count what is still running as cut."""
        left = [r for r in self._running if r.ending is None]
        for request in left:
            request.ending = "cut"
        self.cut += len(left)
        return len(left)

    def cancellation_filter(self) -> logging.Filter:
        """A log filter dropping the server's traceback for each request the drain ended."""
        tracker = self

        class _DrainCancellations(logging.Filter):
            def filter(self, record: logging.LogRecord) -> bool:
                return not (
                    tracker.draining
                    and record.exc_info is not None
                    and isinstance(record.exc_info[1], asyncio.CancelledError)
                )

        return _DrainCancellations()


def _is_event_stream(message: Message) -> bool:
    for name, value in message.get("headers", ()):
        if bytes(name).lower() == b"content-type":
            return bytes(value).split(b";")[0].strip().lower() == _EVENT_STREAM
    return False
