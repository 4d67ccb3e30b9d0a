"""``protect(app)``: every seawall server edge around an ASGI app, in the right order.

Outermost first, and why::

    HealthMiddleware       probes answer first: never shed, never queued, no deadline
    DeadlineMiddleware     the budget starts counting before any queueing below
    SheddingMiddleware     cheap refusal before any work (or any idempotency record)
    IdempotencyMiddleware  replays and conflicts before the handler; stores what it said
    DegradedMiddleware     inside idempotency, so a replayed answer keeps X-Degraded
    app

Each piece is also usable alone. ``protect`` returns a :class:`Protected` app whose
``health`` and ``shedder`` are reachable (``seawall.http.serve`` drains through
``health``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from seawall._clock import Clock
from seawall.http._asgi import ASGIApp, Receive, Scope, Send
from seawall.http._deadlines import DeadlineMiddleware
from seawall.http._degraded import DegradedMiddleware
from seawall.http._health import Health, HealthMiddleware
from seawall.http._shedding import RouteRules, SheddingMiddleware
from seawall.policies._shedder import LoadShedder

__all__ = ["Protected", "protect"]


class Protected:
    """An ASGI app wrapped by :func:`protect`; exposes its ``health`` and ``shedder``."""

    def __init__(self, app: ASGIApp, inner: ASGIApp, health: Health, shedder: LoadShedder | None):
        self.app = app
        self.inner = inner
        self.health = health
        self.shedder = shedder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def protect(
    app: ASGIApp,
    *,
    maximum: float = 5.0,
    shedder: LoadShedder | bool = True,
    routes: RouteRules | None = None,
    default_priority: str = "normal",
    idempotency: bool | Any = True,
    require_idempotency: tuple[str, ...] | Callable[[str, str], bool] = (),
    health: Health | None = None,
    clock: Clock | None = None,
) -> Protected:
    """Wrap ``app`` with health probes, deadlines, load shedding, idempotency, X-Degraded.

    ``shedder``: a :class:`~seawall.LoadShedder`, ``True`` for a default one (fixed limit
    of 100 in flight) or ``False`` for none. ``idempotency``: ``True`` (a
    :class:`~seawall.stores.MemoryStore`; pass a ``SQLiteStore`` or ``RedisStore`` for
    durability or many replicas), a store instance, or ``False``.
    """
    health = health or Health(started=True)
    wrapped: ASGIApp = DegradedMiddleware(app)
    if idempotency is not False:
        from seawall.http._idempotency import IdempotencyMiddleware

        store = None if idempotency is True else idempotency
        # Not our clock: stored records outlive the process, so they keep wall-clock time.
        wrapped = IdempotencyMiddleware(wrapped, store=store, require=require_idempotency)
    load_shedder: LoadShedder | None = None
    if shedder is not False:
        load_shedder = LoadShedder("http", clock=clock) if shedder is True else shedder
        wrapped = SheddingMiddleware(
            wrapped, shedder=load_shedder, routes=routes, default_priority=default_priority
        )
    wrapped = DeadlineMiddleware(wrapped, maximum=maximum, clock=clock)
    wrapped = HealthMiddleware(wrapped, health=health)
    return Protected(wrapped, app, health, load_shedder)
