"""Small ASGI building blocks shared by seawall's middlewares: types and problem replies.

Every response seawall itself produces is a short ``application/problem+json`` body
(RFC 9457) — a machine-readable reason rather than an HTML error page — and every 503
or 429 carries ``Retry-After``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = [
    "ASGIApp",
    "Message",
    "Receive",
    "Scope",
    "Send",
    "header_values",
    "overloaded",
    "problem",
    "send_problem",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def header_values(scope: Scope, name: bytes) -> list[bytes]:
    """Every value of request header ``name`` (given in lower case), in order.

    The ASGI spec asks servers to lower-case header names but does not require it, and
    asks them to preserve case where they can; so a name that is not lower case is
    compared lower-cased. (uvicorn, hypercorn, granian and httpx's ASGI transport send
    lower case, which costs one comparison.)
    """
    return [
        bytes(value)
        for key, value in scope.get("headers", ())
        if key == name or (not key.islower() and key.lower() == name)
    ]


async def send_problem(
    send: Send,
    status: int,
    title: str,
    detail: str,
    *,
    retry_after: float | None = None,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """Answer with a problem+json body (and ``Retry-After`` when given)."""
    raw, body = problem(status, title, detail, retry_after=retry_after, headers=headers)
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    retry_after: float | None = None,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """The headers and body of a problem+json answer, for any transport (ASGI, WSGI)."""
    body = json.dumps(
        {"type": "about:blank", "title": title, "status": status, "detail": detail}
    ).encode()
    raw = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
        *(headers or []),
    ]
    if retry_after is not None:
        raw.append((b"retry-after", str(max(1, math.ceil(retry_after))).encode()))
    return raw, body


def overloaded(level: str, retry_after: float | None) -> tuple[int, str, str, float]:
    """Status, title, detail and ``Retry-After`` of a shed request (every edge's 503)."""
    return (
        503,
        "Overloaded",
        f"{level} priority requests are being shed",
        retry_after if retry_after is not None else 1.0,
    )
