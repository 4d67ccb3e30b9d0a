"""Server edge, load shedding: refuse low-priority work early so the rest gets served.

Each request's priority comes from ``X-Request-Priority`` or from route rules (path
prefix → priority, or a function), defaulting to normal. The request then needs a permit
from a :class:`~seawall.LoadShedder`; refusal is an immediate 503 with ``Retry-After``
and a short problem+json body — cheap to produce, which is the point of shedding. Health
probes are never shed: a replica that is busy is not a replica that is dead. The
priority is also set as the request's :func:`seawall.priority` scope, so the seawall
client propagates it downstream — except ``normal``, the wire default, which needs no
scope (``seawall.current_priority()`` is then ``None``, read as normal everywhere).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from seawall._errors import HeaderError, LoadShed
from seawall._priority import priority as priority_scope
from seawall.http._asgi import ASGIApp, Receive, Scope, Send, header, send_problem
from seawall.policies._shedder import LoadShedder
from seawall.wire import parse_priority

__all__ = ["PROBE_PATHS", "SheddingMiddleware"]

PROBE_PATHS = frozenset({"/livez", "/readyz", "/startupz", "/healthz"})

RouteRules = Mapping[str, str] | Callable[[str, str], str | None]


class SheddingMiddleware:
    """Admit requests by priority through ``shedder``; answer 503 to what it sheds."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        shedder: LoadShedder | None = None,
        routes: RouteRules | None = None,
        default_priority: str = "normal",
        probes: frozenset[str] = PROBE_PATHS,
        trust_header: bool = True,
    ) -> None:
        self.app = app
        self.shedder = shedder or LoadShedder("http")
        self.default_priority = parse_priority(default_priority)
        self.probes = probes
        self.trust_header = trust_header
        if isinstance(routes, Mapping):
            # Longest prefix first, so "/api/admin" beats "/api".
            rules = sorted(routes.items(), key=lambda item: len(item[0]), reverse=True)
            checked = [(prefix, parse_priority(p)) for prefix, p in rules]
            self._route: Callable[[str, str], str | None] = lambda method, path: next(
                (p for prefix, p in checked if path.startswith(prefix)), None
            )
        elif routes is not None:
            self._route = routes
        else:
            self._route = lambda method, path: None

    def _priority(self, scope: Scope) -> str:
        if self.trust_header:
            sent = header(scope, b"x-request-priority")
            if sent is not None:
                return parse_priority(sent)
        routed = self._route(scope.get("method", "GET"), scope.get("path", "/"))
        return parse_priority(routed) if routed is not None else self.default_priority

    async def _run(self, level: str, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app at ``level``; normal is the wire default, so it needs no scope."""
        if level == "normal":
            await self.app(scope, receive, send)
        else:
            with priority_scope(level):
                await self.app(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in self.probes:
            await self.app(scope, receive, send)
            return
        try:
            level = self._priority(scope)
        except HeaderError as exc:
            await send_problem(send, 400, "Bad request priority", str(exc))
            return
        admission = self.shedder.admit(level)
        try:
            await admission.__aenter__()
        except LoadShed as exc:
            await send_problem(
                send,
                503,
                "Overloaded",
                f"{level} priority requests are being shed",
                retry_after=exc.retry_after if exc.retry_after is not None else 1.0,
            )
            return
        try:
            await self._run(level, scope, receive, send)
        except BaseException as exc:
            # The admission learns from how the call ended (a timeout is a drop).
            admission.__exit__(type(exc), exc, exc.__traceback__)
            raise
        admission.__exit__(None, None, None)
