"""Server edge, deadlines: the caller's budget becomes this request's deadline.

Reads ``X-Request-Timeout-Ms`` (and ``grpc-timeout``, ``x-envoy-expected-rq-timeout-ms``),
caps it at the server's own maximum so a caller cannot extend it, and runs the handler —
and everything it calls — inside that deadline scope, so the seawall client and
``downstream_timeout()`` hand a shorter budget on. A budget already spent gets 504 at
once (doing the work would only waste it); a handler that runs past the deadline is
cancelled and answered 504 if it had not started its response. A malformed header is a
400 that says what is wrong, never a 500.
"""

from __future__ import annotations

from seawall._clock import Clock
from seawall.http._asgi import ASGIApp
from seawall.http._edge import Edge

__all__ = ["DeadlineMiddleware"]


class DeadlineMiddleware(Edge):
    """Run each HTTP request under the caller's budget, capped at ``maximum`` seconds."""

    def __init__(self, app: ASGIApp, *, maximum: float = 5.0, clock: Clock | None = None) -> None:
        super().__init__(app, maximum=maximum, clock=clock)
