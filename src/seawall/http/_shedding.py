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

from seawall.http._asgi import ASGIApp, Scope
from seawall.http._edge import Edge
from seawall.policies._shedder import LoadShedder
from seawall.wire import parse_priority

__all__ = ["PROBE_PATHS", "Priorities", "RouteRules", "SheddingMiddleware"]

PROBE_PATHS = frozenset({"/livez", "/readyz", "/startupz", "/healthz"})

RouteRules = Mapping[str, str] | Callable[[str, str], str | None]


class Priorities:
    """Where a request's priority comes from: the header (if trusted), route rules, a default."""

    __slots__ = ("_route", "default", "trust_header")

    def __init__(
        self,
        routes: RouteRules | None = None,
        default: str = "normal",
        *,
        trust_header: bool = True,
    ) -> None:
        self.default = parse_priority(default)
        self.trust_header = trust_header
        if isinstance(routes, Mapping):
            # Longest prefix first, so "/api/admin" beats "/api".
            rules = sorted(routes.items(), key=lambda item: len(item[0]), reverse=True)
            checked = [(prefix, parse_priority(p)) for prefix, p in rules]
            self._route: Callable[[str, str], str | None] | None = lambda method, path: next(
                (p for prefix, p in checked if path.startswith(prefix)), None
            )
        else:
            self._route = routes

    @property
    def routed(self) -> bool:
        """Whether route rules may set a priority (else it is the header's or the default)."""
        return self._route is not None

    def resolve(self, sent: bytes | None, scope: Scope) -> str:
        """The priority of the request in ``scope``; ``sent`` is its X-Request-Priority."""
        if sent is not None and self.trust_header:
            return parse_priority(bytes(sent).decode("latin-1"))
        if self._route is not None:
            routed = self._route(scope.get("method", "GET"), scope.get("path", "/"))
            if routed is not None:
                return parse_priority(routed)
        return self.default


class SheddingMiddleware(Edge):
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
        super().__init__(
            app,
            shedder=shedder or LoadShedder("http"),
            priorities=Priorities(routes, default_priority, trust_header=trust_header),
            unshed=probes,
        )
