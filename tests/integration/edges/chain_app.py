"""A service in a chain A -> B -> C, for the multi-process deadline tests.

``SEAWALL_TEST_NEXT`` is the next hop's URL (none for the last). Every hop answers with
the budget it received; ``?hang=1`` makes the last hop hang, and is passed down.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any

import seawall
import seawall.http

NEXT = os.environ.get("SEAWALL_TEST_NEXT")
NAME = os.environ.get("SEAWALL_TEST_NAME", "svc")
client = seawall.http.AsyncClient(attempts=1) if NEXT else None


async def handler(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    budget = seawall.remaining()
    query = scope.get("query_string", b"").decode()
    answer: dict[str, Any] = {"name": NAME, "budget": budget}
    status = 200
    if client is not None and NEXT is not None:
        started = time.monotonic()
        try:
            response = await client.get(f"{NEXT}/?{query}")
            answer["down"] = (
                response.json() if response.status_code == 200 else response.status_code
            )
            status = 200 if response.status_code == 200 else 502
        except Exception as exc:  # a graceful answer with the time that is left
            answer["down"] = f"{type(exc).__name__} after {time.monotonic() - started:.3f}s"
            status = 504
    elif "hang=1" in query:
        await asyncio.Event().wait()
    body = json.dumps(answer).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


app = seawall.http.protect(handler, maximum=10.0, idempotency=False)
