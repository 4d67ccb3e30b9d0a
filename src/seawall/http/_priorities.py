"""Where a request's priority comes from: the header (if trusted), route rules, a default.

The server edge ranks every request before it asks the load shedder for a permit, so a
priority must be cheap to resolve: route rules are sorted once, longest prefix first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from seawall.http._asgi import Scope
from seawall.wire import parse_priority

__all__ = ["Priorities", "RouteRules"]

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
