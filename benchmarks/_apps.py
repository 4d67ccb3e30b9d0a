"""Trivial ASGI apps for the HTTP benchmarks: the same endpoint bare and protected."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import seawall
import seawall.http


async def bare(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"2")],
        }
    )
    await send({"type": "http.response.body", "body": b"ok"})


protected = seawall.http.protect(bare)

# -- a service of capacity C: C workers, a fixed service time (http_overload.py) --------

CAPACITY = int(os.environ.get("SEAWALL_BENCH_CAPACITY", "8"))
SERVICE_TIME = float(os.environ.get("SEAWALL_BENCH_SERVICE_TIME", "0.05"))
_workers: asyncio.Semaphore | None = None


async def service(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Work costs SERVICE_TIME on one of CAPACITY workers; /livez costs nothing."""
    global _workers
    if scope["type"] != "http":
        return
    if scope["path"] != "/livez":
        if _workers is None:
            _workers = asyncio.Semaphore(CAPACITY)
        async with _workers:
            await asyncio.sleep(SERVICE_TIME)
    await bare(scope, receive, send)


protected_service = seawall.http.protect(
    service,
    # High, normal and low share the limit (the service's capacity); only critical may go
    # above it, up to the hard maximum: that headroom is what keeps critical at 100 %.
    shedder=seawall.LoadShedder(
        "service",
        limit=CAPACITY,
        max_concurrent=CAPACITY + CAPACITY // 2,
        max_queue=CAPACITY,
        queue_target=0.005,
    ),
    idempotency=False,
    maximum=2.0,
)
