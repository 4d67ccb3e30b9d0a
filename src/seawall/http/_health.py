"""Server edge, health probes: answer ``/livez``, ``/readyz`` and ``/startupz`` first.

What each probe means, and the state behind them, is :class:`~seawall.http.Health`
(:mod:`seawall.http._probes`); this middleware only routes the probe paths to it.
"""

from __future__ import annotations

from seawall.http._asgi import ASGIApp
from seawall.http._edge import Edge
from seawall.http._probes import Health, probe_paths, probe_reply

__all__ = ["Health", "HealthMiddleware", "probe_paths", "probe_reply"]


class HealthMiddleware(Edge):
    """Answer the probe paths from ``health``; pass everything else to ``app``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        health: Health | None = None,
        livez: str = "/livez",
        readyz: str = "/readyz",
        startupz: str = "/startupz",
    ) -> None:
        super().__init__(
            app, health=health or Health(started=True), probes=probe_paths(livez, readyz, startupz)
        )
        self.paths = self._probes
