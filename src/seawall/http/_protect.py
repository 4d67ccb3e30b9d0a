"""``protect(app)``: every seawall server edge around an ASGI app, in the right order.

The steps, first to last, and why (see :mod:`seawall.http._edge`, which runs them all in
one ASGI callable):

    health        probes answer first: never shed, never queued, no deadline
    rate limit    a caller over its quota gets 429 before it costs anything
    deadline      the budget starts counting before any queueing below
    shedding      cheap refusal before any work (or any idempotency record)
    idempotency   replays and conflicts before the handler; stores what it said
    degraded      inside idempotency, so a replayed answer keeps X-Degraded
    app

Each step is also usable alone (``DeadlineMiddleware`` and friends). ``protect`` returns
a :class:`Protected` app whose ``health`` and ``shedder`` are reachable
(``seawall.http.serve`` drains through ``health``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from seawall._clock import Clock
from seawall._errors import ConfigError
from seawall._priority import PRIORITY_RANK
from seawall.http._asgi import ASGIApp, Receive, Scope, Send
from seawall.http._checks import asgi_app, positive_seconds
from seawall.http._degraded import DegradedMiddleware
from seawall.http._edge import Answer, Edge
from seawall.http._health import Health, probe_paths
from seawall.http._idempotency import IdempotencyMiddleware
from seawall.http._observe import Page, endpoints, serve_page
from seawall.http._principal import DEFAULT_SESSION_COOKIES, Principal, session_cookie_names
from seawall.http._ratelimit import RateLimitKey, RateLimitStep
from seawall.http._shedding import PROBE_PATHS, Priorities, RouteRules
from seawall.policies._ratelimit import RateLimiter
from seawall.policies._shedder import LoadShedder
from seawall.stores._base import IdempotencyStore

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry


__all__ = ["Protected", "check_options", "protect"]


class Protected(Edge):
    """An ASGI app wrapped by :func:`protect`; exposes its ``health`` and ``shedder``.

    ``inner`` is the app that was protected; ``dashboard`` is the live dashboard (or
    None), whose page and stream are answered before every step, like ``/metrics`` and
    ``/seawall``: a stream lasts minutes, so no deadline may cut it nor duration count it.
    """

    health: Health

    @property
    def inner(self) -> ASGIApp:
        return self.app


def protect(
    app: ASGIApp,
    *,
    maximum: float = 5.0,
    shedder: LoadShedder | bool = True,
    routes: RouteRules | None = None,
    default_priority: str = "normal",
    idempotency: bool | IdempotencyStore = True,
    require_idempotency: tuple[str, ...] | Callable[[str, str], bool] = (),
    principal: Principal | None = None,
    session_cookies: Iterable[str] = DEFAULT_SESSION_COOKIES,
    ttl: float = 86400.0,
    lock_ttl: float = 60.0,
    health: Health | None = None,
    clock: Clock | None = None,
    rate_limit: RateLimiter | None = None,
    rate_limit_key: RateLimitKey | None = None,
    metrics_path: str | None = "/metrics",
    snapshot_path: str | None = "/seawall",
    metrics_registry: CollectorRegistry | None = None,
    request_durations: bool = True,
    service: str | None = None,
    dashboard_path: str | None = "/seawall/dashboard",
) -> Protected:
    """Wrap ``app`` with health probes, deadlines, load shedding, idempotency, X-Degraded.

    ``maximum``: the largest budget (seconds) a request may have, whatever its caller
    sends. ``shedder``: a :class:`~seawall.LoadShedder`, ``True`` for a default one (fixed
    limit of 100 in flight) or ``False`` for none. ``idempotency``: ``True`` (a
    :class:`~seawall.stores.MemoryStore`; pass a ``SQLiteStore`` or ``RedisStore`` for
    durability or many replicas), a store instance, or ``False``.

    Idempotent replays are scoped by caller, so one user never receives another's stored
    response, nor a 409 or 422 that reveals another's key. ``principal`` names the caller
    (``scope -> str``, or async); the default hashes the ``Authorization`` header with the
    session cookies in ``session_cookies`` (:data:`DEFAULT_SESSION_COOKIES`: Flask,
    Django, Java, Express, Rails, PHP, ASP.NET and more) and ignores other cookies, which
    change between a request and its retry. An app that authenticates by another cookie,
    an API-key header or mTLS must pass ``session_cookies=`` or ``principal=``, or all its
    callers share one principal. A rotated token is another principal: a retry sent with
    a refreshed token runs again unless ``principal`` returns a stable user id. ``ttl``:
    seconds a stored response is replayed (24 h); ``lock_ttl``: seconds before the claim of
    a request whose process died is released (60 s; keep it above the slowest handler).

    ``rate_limit``: a :class:`~seawall.RateLimiter` holding each caller to its quota; the
    caller is ``rate_limit_key(scope)`` (a string, or async), by default the hashed
    ``Authorization`` header, else the client's address. Over quota, a request gets 429
    with ``Retry-After``; every response carries ``RateLimit-Policy`` and ``RateLimit``.
    What the service shows: ``metrics_path`` serves Prometheus's text exposition of every
    seawall metric in the process (``/metrics``; no metrics library needed), or of
    ``metrics_registry`` (a prometheus_client registry) with seawall's collector added;
    ``snapshot_path`` serves the JSON snapshot of every policy (``/seawall``), with
    ``service`` as its service name. Both are answered before shedding, deadlines and
    idempotency, and ``None`` turns either off. ``request_durations`` counts every other
    request in ``http_server_request_duration_seconds`` by route template, method and
    status.
    ``dashboard_path`` serves the live dashboard of this process's policies (its event
    stream at ``<dashboard_path>/stream``), also before every step; None turns it off
    (see docs/dashboard.md).

    Every argument is checked here: a bad one raises :class:`~seawall.ConfigError` naming
    it, before the app serves anything.
    """
    asgi_app(app)
    pages = endpoints(metrics_path, snapshot_path, service, metrics_registry)
    if not isinstance(request_durations, bool):
        raise ConfigError(f"request_durations must be True or False, got {request_durations!r}")
    options = (shedder, routes, default_priority, require_idempotency, health, clock)
    maximum, ttl, lock_ttl = check_options(maximum, ttl, lock_ttl, *options)
    if (
        idempotency is not True
        and idempotency is not False
        and (
            isinstance(idempotency, int | float | str)
            or not all(callable(getattr(idempotency, op, None)) for op in _STORE_OPERATIONS)
        )
    ):
        raise ConfigError(
            f"idempotency must be True, False or an idempotency store, got {idempotency!r}"
        )
    limit = None
    if rate_limit is not None:
        limit = RateLimitStep(rate_limit, rate_limit_key)
    elif rate_limit_key is not None:
        raise ConfigError("rate_limit_key= applies to rate_limit=, which is not set")
    health = health or Health(started=True)
    dashboard = None
    if dashboard_path is not None:
        from seawall.metrics._dashboard import Dashboard, in_process

        if dashboard_path in pages:
            raise ConfigError(f"dashboard_path {dashboard_path!r} is already served")
        # Paced by wall time whatever ``clock`` is: a dashboard shows real seconds.
        dashboard = Dashboard(in_process(service), path=dashboard_path, service=service)
        dashboard.health = health
    load_shedder: LoadShedder | None = None
    if shedder is not False:
        load_shedder = LoadShedder("http", clock=clock) if shedder is True else shedder
    keyed = None
    if idempotency is not False:
        store = None if idempotency is True else idempotency
        # Not our clock: stored records outlive the process, so they keep wall-clock time.
        keyed = IdempotencyMiddleware(
            DegradedMiddleware(app),
            store=store,
            require=require_idempotency,
            principal=principal,
            session_cookies=session_cookies,
            ttl=ttl,
            lock_ttl=lock_ttl,
        )
    else:
        # Checked even unused, so a typo is not silently ignored.
        session_cookie_names(session_cookies)
        if principal is not None:
            raise ConfigError("principal= applies to idempotency, which is turned off")
    protected = Protected(
        app,
        health=health,
        probes=probe_paths(),
        maximum=maximum,
        clock=clock,
        shedder=load_shedder,
        priorities=(Priorities(routes, default_priority) if load_shedder is not None else None),
        unshed=PROBE_PATHS,
        keyed=keyed,
        methods=keyed.methods if keyed is not None else frozenset(),
        requires_key=keyed.required if keyed is not None else None,
        degraded_header=b"x-degraded",
        rate_limit=limit,
        answers={path: _page_answer(page) for path, page in pages.items()},
        dashboard=dashboard,
        durations=request_durations,
    )
    return protected


def _page_answer(page: Page) -> Answer:
    def answer(scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        return serve_page(page, scope, send)

    return answer


_STORE_OPERATIONS = ("claim", "complete", "release")


def check_options(
    maximum: object,
    ttl: object,
    lock_ttl: object,
    shedder: object,
    routes: object,
    default_priority: object,
    require_idempotency: object,
    health: object,
    clock: object,
    /,
) -> tuple[float, float, float]:
    """Check the options every server edge (ASGI, WSGI) takes; ``(maximum, ttl, lock_ttl)``.

    Each bad one raises :class:`~seawall.ConfigError` naming it, before anything is served.
    """
    seconds = (
        positive_seconds(maximum, "maximum"),
        positive_seconds(ttl, "ttl"),
        positive_seconds(lock_ttl, "lock_ttl"),
    )
    if not isinstance(shedder, bool | LoadShedder):
        raise ConfigError(f"shedder must be a LoadShedder, True or False, got {shedder!r}")
    if not isinstance(default_priority, str) or default_priority.lower() not in PRIORITY_RANK:
        raise ConfigError(
            f"default_priority must be one of {', '.join(PRIORITY_RANK)}, got {default_priority!r}"
        )
    if routes is not None and not (isinstance(routes, Mapping) or callable(routes)):
        raise ConfigError(f"routes must map path prefixes to priorities, got {routes!r}")
    if isinstance(routes, Mapping):
        for prefix, level in routes.items():
            if not isinstance(prefix, str) or not isinstance(level, str):
                raise ConfigError(f"routes must map path prefixes to priorities, got {routes!r}")
            if level.lower() not in PRIORITY_RANK:
                raise ConfigError(f"routes[{prefix!r}] is not a priority: {level!r}")
    if isinstance(require_idempotency, str) or not (
        callable(require_idempotency) or isinstance(require_idempotency, Iterable)
    ):
        raise ConfigError(
            "require_idempotency must be a tuple of path prefixes or a function"
            f" (method, path) -> bool, got {require_idempotency!r}"
        )
    if health is not None and not isinstance(health, Health):
        raise ConfigError(f"health must be a seawall.http.Health, got {health!r}")
    if clock is not None and not callable(getattr(clock, "now", None)):
        raise ConfigError(f"clock must be a seawall Clock, got {clock!r}")
    return seconds
