"""Server edge, degraded answers: say which parts of a response were left out.

When :func:`seawall.partial` answers with an optional part's default (recommendations
down → page without recommendations), the response is still a 200, but a client or a
dashboard should know it was partial. The middleware opens a per-request collector;
``partial()`` (or :func:`mark_degraded`) records names into it, and the response carries
``X-Degraded: recommendations``.
"""

from __future__ import annotations

from seawall.http._asgi import ASGIApp
from seawall.http._edge import Edge

__all__ = ["DegradedMiddleware"]


class DegradedMiddleware(Edge):
    """Add ``X-Degraded: <names>`` to responses built from degraded parts."""

    def __init__(self, app: ASGIApp, *, header: str = "x-degraded") -> None:
        super().__init__(app, degraded_header=header.lower().encode())
        self.header = self._degraded
