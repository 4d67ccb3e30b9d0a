"""``seawall.wsgi.protect(app)``: the server edge for Flask, Django and any WSGI app."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable

from seawall._clock import Clock
from seawall._errors import ConfigError
from seawall.http._health import Health, probe_paths
from seawall.http._idempotency import requirement
from seawall.http._principal import DEFAULT_SESSION_COOKIES, session_cookie_names
from seawall.http._protect import check_options
from seawall.http._shedding import PROBE_PATHS, Priorities, RouteRules
from seawall.policies._ratelimit import RateLimiter
from seawall.policies._shedder import LoadShedder
from seawall.stores._base import SyncIdempotencyStore
from seawall.stores._memory import MemoryStore
from seawall.wsgi._edge import WSGIEdge
from seawall.wsgi._keyed import Keyed, WSGIPrincipal
from seawall.wsgi._ratelimit import WSGIRateLimit, WSGIRateLimitKey
from seawall.wsgi._reply import WSGIApp

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
    rate_limit: RateLimiter | None = None,
    rate_limit_key: WSGIRateLimitKey | None = None,
) -> WSGIEdge:
    """Wrap WSGI ``app`` with health probes, deadlines, load shedding, idempotency, X-Degraded.

    The options are :func:`seawall.http.protect`'s, with the same meaning and defaults,
    except three: ``rate_limit_key`` is a function of the WSGI ``environ`` (the default
    caller is the hashed ``Authorization`` header, else ``REMOTE_ADDR``); ``idempotency``
    takes a store with sync forms (``MemoryStore``, ``SQLiteStore``; ``SQLiteStore`` is
    shared by the worker processes of one host); and
    ``principal`` is a function of the WSGI ``environ`` (``environ -> str``). The default
    principal hashes ``Authorization`` and the cookies named in ``session_cookies`` exactly
    as the ASGI edge does, so both edges can share one store.

    Under gunicorn, run with ``-c python:seawall.wsgi.gunicorn`` so that ``/readyz`` fails
    at once on SIGTERM and the server drains before it stops.

    Every argument is checked here: a bad one raises :class:`~seawall.ConfigError` naming
    it, before the app serves anything.
    """
    _wsgi_app(app)
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
    limit = None
    if rate_limit is not None:
        limit = WSGIRateLimit(rate_limit, rate_limit_key)
    elif rate_limit_key is not None:
        raise ConfigError("rate_limit_key= applies to rate_limit=, which is not set")
    load_shedder: LoadShedder | None = None
    if shedder is not False:
        load_shedder = LoadShedder("http", clock=clock) if shedder is True else shedder
    return WSGIEdge(
        app,
        health=health or Health(started=True),
        probes=probe_paths(),
        maximum=maximum,
        clock=clock,
        shedder=load_shedder,
        priorities=Priorities(routes, default_priority) if load_shedder is not None else None,
        unshed=PROBE_PATHS,
        keyed=keyed,
        rate_limit=limit,
    )


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
