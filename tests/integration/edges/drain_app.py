"""A protected service for the shutdown tests: slow requests, a started answer, an event stream.

``/sleep?s=N`` answers after N seconds; ``/started?s=N`` sends its first chunk at once
and the rest after N seconds; ``/events`` is a server-sent-event stream that never ends
by itself.
"""

from __future__ import annotations

import asyncio
from typing import Any

import seawall.http


def _seconds(scope: dict[str, Any]) -> float:
    _, _, value = scope.get("query_string", b"").decode().partition("s=")
    return float(value or 0)


async def handler(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path == "/events":
        headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-store")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        while True:
            await send({"type": "http.response.body", "body": b"data: tick\n\n", "more_body": True})
            await asyncio.sleep(0.05)
    if path == "/started":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"first ", "more_body": True})
        await asyncio.sleep(_seconds(scope))
        await send({"type": "http.response.body", "body": b"last"})
        return
    await asyncio.sleep(_seconds(scope))
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"done"})


app = seawall.http.protect(handler, idempotency=False, shedder=False, maximum=30.0)
