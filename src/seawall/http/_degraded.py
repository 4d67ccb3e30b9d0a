"""Server edge, degraded answers: say which parts of a response were left out.

When :func:`seawall.partial` answers with an optional part's default (recommendations
down → page without recommendations), the response is still a 200, but a client or a
dashboard should know it was partial. The middleware opens a per-request collector;
``partial()`` (or :func:`mark_degraded`) records names into it, and the response carries
``X-Degraded: recommendations``.
"""

from __future__ import annotations

from seawall._degraded import _names
from seawall.http._asgi import ASGIApp, Message, Receive, Scope, Send

__all__ = ["DegradedMiddleware"]


class DegradedMiddleware:
    """Add ``X-Degraded: <names>`` to responses built from degraded parts."""

    def __init__(self, app: ASGIApp, *, header: str = "x-degraded") -> None:
        self.app = app
        self.header = header.lower().encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        names: set[str] = set()
        token = _names.set(names)

        async def marking_send(message: Message) -> None:
            if names and message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((self.header, ", ".join(sorted(names)).encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, marking_send)
        finally:
            _names.reset(token)
