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

from seawall.http._asgi import ASGIApp
from seawall.http._edge import Edge
from seawall.http._priorities import Priorities, RouteRules
from seawall.http._probes import PROBE_PATHS
from seawall.policies._shedder import LoadShedder

__all__ = ["PROBE_PATHS", "Priorities", "RouteRules", "SheddingMiddleware"]


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
