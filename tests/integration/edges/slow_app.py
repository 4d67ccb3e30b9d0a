"""A service whose every request takes 200 ms, for the graceful shutdown test."""

from __future__ import annotations

import asyncio
from typing import Any

import seawall.http


async def handler(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await asyncio.sleep(0.2)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"done"})


app = seawall.http.protect(handler, idempotency=False, shedder=False)
