"""``seawall.wsgi.protect(app)``: the server edge for Flask, Django and any WSGI app."""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from seawall._clock import Clock
from seawall._durations import SERVER, UNMATCHED, method_label
from seawall._errors import ConfigError
from seawall.http._health import Health, probe_paths
from seawall.http._idempotency import requirement
from seawall.http._observe import Page, endpoints
from seawall.http._principal import DEFAULT_SESSION_COOKIES, session_cookie_names
from seawall.http._protect import check_options
from seawall.http._shedding import PROBE_PATHS, Priorities, RouteRules
from seawall.policies._shedder import LoadShedder
from seawall.stores._base import SyncIdempotencyStore
from seawall.stores._memory import MemoryStore
from seawall.wsgi._edge import WSGIEdge
from seawall.wsgi._keyed import Keyed, WSGIPrincipal
from seawall.wsgi._reply import Environ, StartResponse, WSGIApp

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

__all__ = ["protect"]

_SYNC_OPERATIONS = ("claim_sync", "complete_sync", "release_sync")


def protect(
    app: WSGIApp,
    *,
    maximum: float = 5.0,
    shedder: LoadShedder | bool = True,
    routes: RouteRules | None = None,
    default_priority: str = "normal",
    idempotency: bool | SyncIdempotencyStore = True,
    require_idempotency: tuple[str, ...] | Callable[[str, str], bool] = (),
    principal: WSGIPrincipal | None = None,
    session_cookies: Iterable[str] = DEFAULT_SESSION_COOKIES,
    ttl: float = 86400.0,
    lock_ttl: float = 60.0,
    health: Health | None = None,
    clock: Clock | None = None,
    metrics_path: str | None = "/metrics",
    snapshot_path: str | None = "/seawall",
    metrics_registry: CollectorRegistry | None = None,
    request_durations: bool = True,
    service: str | None = None,
) -> WSGIEdge:
    """Wrap WSGI ``app`` with health probes, deadlines, load shedding, idempotency, X-Degraded.

    The options are :func:`seawall.http.protect`'s, with the same meaning and defaults,
    except two: ``idempotency`` takes a store with sync forms (``MemoryStore``,
    ``SQLiteStore``; ``SQLiteStore`` is shared by the worker processes of one host), and
    ``principal`` is a function of the WSGI ``environ`` (``environ -> str``). The default
    principal hashes ``Authorization`` and the cookies named in ``session_cookies`` exactly
    as the ASGI edge does, so both edges can share one store.

    ``metrics_path``, ``snapshot_path``, ``metrics_registry``, ``request_durations`` and
    ``service`` serve ``/metrics`` and ``/seawall`` as the ASGI edge does. A WSGI request
    carries no route template, so ``http_server_request_duration_seconds`` labels every
    request's route ``other`` (by method and status).

    Under gunicorn, run with ``-c python:seawall.wsgi.gunicorn`` so that ``/readyz`` fails
    at once on SIGTERM and the server drains before it stops.

    Every argument is checked here: a bad one raises :class:`~seawall.ConfigError` naming
    it, before the app serves anything.
    """
    _wsgi_app(app)
    pages = endpoints(metrics_path, snapshot_path, service, metrics_registry)
    if not isinstance(request_durations, bool):
        raise ConfigError(f"request_durations must be True or False, got {request_durations!r}")
    options = (shedder, routes, default_priority, require_idempotency, health, clock)
    maximum, ttl, lock_ttl = check_options(maximum, ttl, lock_ttl, *options)
    cookies = session_cookie_names(session_cookies)
    if principal is not None and not callable(principal):
        raise ConfigError(f"principal must be a function of the WSGI environ, got {principal!r}")
    keyed: Keyed | None = None
    if idempotency is not False:
        if idempotency is True:
            store: SyncIdempotencyStore = MemoryStore()
        elif isinstance(idempotency, int | float | str) or not all(
            callable(getattr(idempotency, op, None)) for op in _SYNC_OPERATIONS
        ):
            raise ConfigError(
                "idempotency must be True, False or a store with sync forms"
                f" (MemoryStore, SQLiteStore), got {idempotency!r}"
            )
        else:
            store = idempotency
        keyed = Keyed(
            app,
            store=store,
            methods=frozenset({"POST", "PATCH"}),
            required=requirement(require_idempotency),
            principal=principal,
            session_cookies=cookies,
            ttl=ttl,
            lock_ttl=lock_ttl,
        )
    elif principal is not None:
        raise ConfigError("principal= applies to idempotency, which is turned off")
    load_shedder: LoadShedder | None = None
    if shedder is not False:
        load_shedder = LoadShedder("http", clock=clock) if shedder is True else shedder
    edge = _Observed if pages or request_durations else WSGIEdge
    protected = edge(
        app,
        health=health or Health(started=True),
        probes=probe_paths(),
        maximum=maximum,
        clock=clock,
        shedder=load_shedder,
        priorities=Priorities(routes, default_priority) if load_shedder is not None else None,
        unshed=PROBE_PATHS,
        keyed=keyed,
    )
    if isinstance(protected, _Observed):
        protected.pages = pages
        protected.durations = request_durations
    return protected


class _Observed(WSGIEdge):
    """The WSGI edge that also serves /metrics and /seawall and times every request.

    The pages are answered before every other step: a scrape is never shed, never needs
    a budget or an idempotency key.
    """

    pages: Mapping[str, Page] = MappingProxyType({})
    durations = True

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path: str = environ.get("PATH_INFO") or "/"
        page = self.pages.get(path)
        method: str = environ.get("REQUEST_METHOD", "GET")
        if page is not None:
            if method not in ("GET", "HEAD"):
                start_response("405 Method Not Allowed", [("Allow", "GET, HEAD")])
                return [b"only GET and HEAD\n"]
            content_type, body = page()
            start_response(
                "200 OK",
                [
                    ("Content-Type", content_type.decode()),
                    ("Content-Length", str(len(body))),
                    ("Cache-Control", "no-store"),
                ],
            )
            return [b"" if method == "HEAD" else body]
        if not self.durations or path in self._probes:
            return super().__call__(environ, start_response)
        started = time.perf_counter()
        status = 0

        def seen(code: str, headers: Any, exc_info: Any = None) -> Any:
            nonlocal status
            status = int(code[:3]) if code[:3].isdigit() else 0
            return start_response(code, headers, exc_info)

        try:
            return super().__call__(environ, seen)
        except BaseException:
            status = status or 500
            raise
        finally:
            SERVER.record((UNMATCHED, method_label(method), status), time.perf_counter() - started)


def _wsgi_app(app: object) -> None:
    """Refuse what cannot be called as ``app(environ, start_response)`` (an ASGI app)."""
    if not callable(app) or inspect.isclass(app):
        raise ConfigError(f"app must be a WSGI app (environ, start_response), got {app!r}")
    if inspect.iscoroutinefunction(app) or inspect.iscoroutinefunction(type(app).__call__):
        raise ConfigError(f"app {app!r} is an async (ASGI) app: use seawall.http.protect for it")
    try:
        inspect.signature(app).bind(object(), object())
    except TypeError:
        raise ConfigError(
            f"app {app!r} cannot be called as a WSGI app (environ, start_response)"
        ) from None
    except ValueError:
        return  # no readable signature (a C extension): taken on trust
