"""What ``protect()`` shows about itself: ``/metrics``, ``/seawall`` and request durations.

``/metrics`` answers Prometheus's scrape (the text exposition of seawall's collector) and
``/seawall`` the JSON snapshot of every policy in the process. Both are answered before
any other step, like the probes: a scrape must not be shed when the service is
overloaded (that is when it matters most), nor wait for a deadline or need an
idempotency key.

``/metrics`` is written by seawall itself and needs no metrics library; a
``metrics_registry`` of the application's (prometheus_client) is served with seawall's
collector added instead.

Every other request is counted in ``http.server.request.duration`` by the edge itself
(:mod:`seawall.http._edge`, in the send wrapper it already has), labelled by the route
template the framework matched (``scope["route"].path`` in Starlette and FastAPI; never
the raw path) or ``other``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from seawall._errors import ConfigError
from seawall.http._asgi import Scope, Send

__all__ = ["Page", "endpoints", "serve_page"]


Page = Callable[[], tuple[bytes, bytes]]


def _metrics_page(registry: Any) -> Page:
    from seawall.metrics import prometheus_text, register

    if registry is None:
        from seawall.metrics._exposition import CONTENT_TYPE

        return lambda: (CONTENT_TYPE, prometheus_text())
    if not callable(getattr(registry, "register", None)):
        raise ConfigError(
            f"metrics_registry must be a prometheus_client CollectorRegistry, got {registry!r}"
        )
    register(registry)
    from prometheus_client import CONTENT_TYPE_LATEST

    content_type = CONTENT_TYPE_LATEST.encode()
    return lambda: (content_type, prometheus_text(registry))


def _snapshot_page(service: str | None) -> Page:
    from seawall.metrics import snapshot_json

    def page() -> tuple[bytes, bytes]:
        return b"application/json", json.dumps(snapshot_json(service)).encode()

    return page


def endpoints(
    metrics_path: str | None,
    snapshot_path: str | None,
    service: str | None,
    registry: Any = None,
) -> dict[str, Page]:
    """The pages to serve by path; a bad option raises :class:`~seawall.ConfigError`."""
    pages: dict[str, Page] = {}
    for option, path in (("metrics_path", metrics_path), ("snapshot_path", snapshot_path)):
        if path is not None and (not isinstance(path, str) or not path.startswith("/")):
            raise ConfigError(f"{option} must be a path starting with '/' or None, got {path!r}")
    if service is not None and not isinstance(service, str):
        raise ConfigError(f"service must be a string or None, got {service!r}")
    if metrics_path is not None and metrics_path == snapshot_path:
        raise ConfigError(f"metrics_path and snapshot_path are both {metrics_path!r}")
    if metrics_path is not None:
        pages[metrics_path] = _metrics_page(registry)
    elif registry is not None:
        raise ConfigError("metrics_registry= is served at metrics_path, which is None")
    if snapshot_path is not None:
        pages[snapshot_path] = _snapshot_page(service)
    return pages


async def serve_page(page: Page, scope: Scope, send: Send) -> None:
    if scope.get("method") not in ("GET", "HEAD"):
        body = b"only GET and HEAD\n"
        await send(
            {
                "type": "http.response.start",
                "status": 405,
                "headers": [(b"allow", b"GET, HEAD"), (b"content-length", b"%d" % len(body))],
            }
        )
        await send({"type": "http.response.body", "body": body})
        return
    content_type, body = page()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", b"%d" % len(body)),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})
