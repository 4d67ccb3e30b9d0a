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

import asyncio
import logging

from seawall._clock import SYSTEM_CLOCK, Clock
from seawall._deadline import _current
from seawall._errors import DeadlineExceeded, HeaderError
from seawall.http._asgi import ASGIApp, Message, Receive, Scope, Send, send_problem
from seawall.policies._alarm import arm
from seawall.policies._timeout import enter_scope, expired
from seawall.wire import budget_from_headers

__all__ = ["DeadlineMiddleware"]

logger = logging.getLogger("seawall.http")


class DeadlineMiddleware:
    """Run each HTTP request under the caller's budget, capped at ``maximum`` seconds."""

    def __init__(self, app: ASGIApp, *, maximum: float = 5.0, clock: Clock | None = None) -> None:
        if not maximum > 0:
            raise ValueError(f"maximum must be a positive number of seconds, got {maximum!r}")
        self.app = app
        self.maximum = maximum
        self.clock = clock or SYSTEM_CLOCK

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            budget = budget_from_headers(scope.get("headers", []), maximum=self.maximum)
        except HeaderError as exc:
            await send_problem(send, 400, "Bad request timeout header", str(exc))
            return
        assert budget is not None  # capped at maximum
        if budget <= 0:
            await send_problem(send, 504, "Deadline exceeded", "the request's budget was spent")
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        # The async Timeout shell's steps, inlined: no policy object per request.
        deadline, token = enter_scope(budget, self.clock, "request", "http")
        alarm = arm(deadline.when - self.clock.now())
        try:
            try:
                await self.app(scope, receive, tracking_send)
            except asyncio.CancelledError as exc:
                if alarm.fired and alarm.task.uncancel() == 0:
                    raise expired(deadline, "request", "http", exc) from None
                raise
            finally:
                alarm.disarm()
                _current.reset(token)
            if alarm.fired:
                alarm.task.uncancel()
                raise expired(deadline, "request", "http")
        except DeadlineExceeded as exc:
            if started:
                # Too late to change the status: abort so the client sees a broken
                # response rather than a complete-looking truncated one.
                raise
            logger.info("%s %s: %s", scope.get("method"), scope.get("path"), exc)
            await send_problem(
                send, 504, "Deadline exceeded", f"the handler ran past its {budget:.3f}s budget"
            )
