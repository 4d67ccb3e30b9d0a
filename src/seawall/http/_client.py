"""The client edge: httpx transports that apply seawall's policies per host.

``Transport`` / ``AsyncTransport`` wrap any httpx transport and send every request
through the client edge every seawall integration shares: per host, ``standard()``'s
retry, budget, breaker and bulkhead (5 s per attempt, 10 s in all, 3 attempts); attempt
timeouts from the deadline, told to the callee in ``X-Request-Timeout-Ms``; only network
errors and 5xx/408/429 retried, ``Retry-After`` honoured; one ``Idempotency-Key`` per
logical POST/PATCH across its attempts. The attempt's budget becomes httpx's
connect/read/write/pool timeouts.

When retries end on a retryable status, the last response is returned as httpx would
(``raise_for_status`` stays the caller's choice); with ``raise_for_status=True`` an
:class:`HTTPStatusError` carrying ``status_code`` and ``retry_after`` is raised instead.
An open breaker or full bulkhead raises :class:`~seawall.Rejected` without a request.

The attempt bound is httpx's own timeouts rather than ``standard()``'s attempt
``Timeout`` layer: the socket waits are where a sync call can be bounded at all, and the
callee is told the very number its caller waits. Every option is checked when the client
is made (one host's policies are built then), never on the first request.
"""

from __future__ import annotations

import time
from typing import Any, TypeVar, cast

import httpx

from seawall._drive import client_attempt
from seawall._outbound import (
    ClientPolicies,
    Edge,
    HTTPStatusError,
    edge_options,
    host_key,
    parse_retry_after,
    split_options,
)
from seawall._transient import transient_status
from seawall.policies._breaker import CircuitBreaker
from seawall.policies._hedge import Hedge

__all__ = [
    "AsyncClient",
    "AsyncTransport",
    "Client",
    "ClientPolicies",
    "HTTPStatusError",
    "Transport",
    "parse_retry_after",
]

_PHASES = ("connect", "read", "write", "pool")
_UNSET = dict.fromkeys(_PHASES)  # what a client made with timeout=None gives each request


def _key(url: httpx.URL | str) -> str:
    if type(url) is not httpx.URL:  # a request's URL is parsed already
        url = httpx.URL(url)
    return host_key(url.scheme, url.host, url.port)


# Where a request carries its host's registry key from handle_request to its attempts
# (and to their copies, for a hedge): reading it from the URL again costs more than the
# rest of the attempt's bookkeeping.
_HOST = "seawall.host"


def _host(request: httpx.Request) -> str:
    key = request.extensions.get(_HOST)
    return key if key is not None else _key(request.url)


def _shape(edge: Edge, request: httpx.Request) -> None:
    """This attempt's wire headers, and its budget as httpx's four phase timeouts."""
    budget = edge.shape(request.headers, request.method, request.url)
    given = request.extensions.get("timeout")
    if budget is None:  # nothing bounds the attempt: httpx waits as told
        request.extensions["timeout"] = given or dict.fromkeys(_PHASES)
    elif given and given != _UNSET:
        request.extensions["timeout"] = {
            phase: budget if (t := given.get(phase)) is None or t > budget else t
            for phase in _PHASES
        }
    else:
        request.extensions["timeout"] = dict.fromkeys(_PHASES, budget)


def _clone(request: httpx.Request) -> httpx.Request:
    """A copy of a buffered request, for a hedge: each copy gets its own wire headers."""
    return httpx.Request(
        request.method,
        request.url,
        headers=request.headers.copy(),
        content=request.content,
        extensions=dict(request.extensions),
    )


def _judged(
    edge: Edge, request: httpx.Request, response: httpx.Response | None, started: float
) -> HTTPStatusError | None:
    """Record an attempt that got ``response`` (None: no answer); the error it is, if any.

    A refused response is returned as its error, not raised: the transport reads and
    closes it (in its own way, sync or async) before raising.
    """
    if response is None:
        edge.observe(request.method, _host(request), None, time.perf_counter() - started)
        return None
    status = response.status_code
    edge.observe(request.method, _host(request), status, time.perf_counter() - started)
    # Retry-After only matters on a status that is retried: reading a header costs more
    # than the rest of judging.
    retry_after = response.headers.get("retry-after") if transient_status(status) else None
    try:
        edge.judge(request, response, status, retry_after)
    except HTTPStatusError as exc:
        return exc
    return None


class _Hosts:
    """What both transports answer about a host: its policies, read from the shared edge."""

    _edge: Edge

    def policies(self, url: httpx.URL | str) -> ClientPolicies:
        """The retry, breaker and bulkhead of ``url``'s host (made on first use)."""
        return self._edge.policies_for(_key(url))

    def breaker_for(self, url: httpx.URL | str) -> CircuitBreaker:
        return self._edge.breaker_for(_key(url))

    def hedge_for(self, url: httpx.URL | str) -> Hedge | None:
        """The host's :class:`~seawall.Hedge` (its counters), or None if it is not hedged."""
        return self._edge.hedge_for(_key(url))


class Transport(_Hosts, httpx.BaseTransport):
    """A sync httpx transport with deadlines, retries, a breaker and a bulkhead per host.

    Options, each overriding one :func:`~seawall.standard` argument (``kind="http"``):
    ``timeout`` (cap per attempt, 5 s; ``inf`` for none), ``total_timeout`` (every
    attempt and backoff together, 10 s; ``inf`` for none), ``attempts`` (3), ``backoff``,
    ``retry_budget`` (ratio, 0.1; ``False`` for none), ``breaker`` (a dict of
    CircuitBreaker keyword arguments, e.g. ``failure_rate``, ``min_calls``, ``cooldown``),
    ``max_concurrent`` / ``max_queue`` (64 / 64 per host), ``clock``, ``rng``; and the
    client's own ``idempotency_keys`` (True),
    ``raise_for_status`` (False), ``max_hosts`` (1000), ``name`` ("client"), the label
    of its per-host policies in metrics and snapshots; ``hedge``, a dict of hosts
    (``"name"`` or ``"name:port"``) to :class:`~seawall.Hedge` options, e.g.
    ``{"api.internal": {"delay": "p95"}}``: those hosts hedge idempotent and keyed
    requests instead of retrying them. A bad value raises :class:`~seawall.ConfigError`
    here.
    """

    def __init__(self, transport: httpx.BaseTransport | None = None, **options: Any) -> None:
        self._inner = transport or httpx.HTTPTransport()
        self._edge = Edge(**edge_options(options), attempt=self._attempt, clone=_clone)

    @client_attempt("http")
    def _attempt(self, request: httpx.Request) -> httpx.Response:
        _shape(self._edge, request)
        started = time.perf_counter()
        try:
            response = self._inner.handle_request(request)
        except BaseException:
            _judged(self._edge, request, None, started)
            raise
        refused = _judged(self._edge, request, response, started)
        if refused is not None:
            response.read()
            response.close()
            raise refused
        return response

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        key = request.extensions[_HOST] = _key(request.url)
        send = self._edge.prepare(request.method, key, request.headers)
        request.read()  # buffer the body so every attempt can send it again
        try:
            return cast(httpx.Response, send(request))
        except HTTPStatusError as exc:
            if self._edge.raise_for_status:
                raise
            return cast(httpx.Response, exc.response)

    def close(self) -> None:
        self._inner.close()


class AsyncTransport(_Hosts, httpx.AsyncBaseTransport):
    """The asyncio twin of :class:`Transport`, with the same options."""

    def __init__(self, transport: httpx.AsyncBaseTransport | None = None, **options: Any) -> None:
        self._inner = transport or httpx.AsyncHTTPTransport()
        self._edge = Edge(**edge_options(options), attempt=self._attempt, clone=_clone)

    @client_attempt("http")
    async def _attempt(self, request: httpx.Request) -> httpx.Response:
        _shape(self._edge, request)
        started = time.perf_counter()
        try:
            response = await self._inner.handle_async_request(request)
        except BaseException:
            _judged(self._edge, request, None, started)
            raise
        refused = _judged(self._edge, request, response, started)
        if refused is not None:
            await response.aread()
            await response.aclose()
            raise refused
        return response

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        key = request.extensions[_HOST] = _key(request.url)
        send = self._edge.prepare(request.method, key, request.headers)
        await request.aread()
        try:
            return cast(httpx.Response, await send(request))
        except HTTPStatusError as exc:
            if self._edge.raise_for_status:
                raise
            return cast(httpx.Response, exc.response)

    async def aclose(self) -> None:
        await self._inner.aclose()


class _Client(httpx.Client):
    """An ``httpx.Client`` that can show the policies it keeps per host."""

    _seawall: Transport

    def policies(self, url: httpx.URL | str) -> ClientPolicies:
        """The retry, breaker and bulkhead of ``url``'s host (made on first use)."""
        return self._seawall.policies(url)


class _AsyncClient(httpx.AsyncClient):
    """An ``httpx.AsyncClient`` that can show the policies it keeps per host."""

    _seawall: AsyncTransport

    def policies(self, url: httpx.URL | str) -> ClientPolicies:
        """The retry, breaker and bulkhead of ``url``'s host (made on first use)."""
        return self._seawall.policies(url)


def Client(**kwargs: Any) -> _Client:
    """An ``httpx.Client`` whose transport is a seawall :class:`Transport`.

    seawall options (see :class:`Transport`) are taken out of ``kwargs``; everything else
    goes to ``httpx.Client``. A ``transport=`` given is wrapped, not replaced. ``timeout``
    is seawall's per-attempt cap, so httpx's own default timeout is off: a per-request
    ``timeout=`` still applies, within seawall's. ``name`` names the client in metrics
    (each host's policies are labelled with it and the host's ``target``);
    ``client.policies(url)`` returns one host's policies.
    """
    return _build(_Client, Transport, kwargs)


def AsyncClient(**kwargs: Any) -> _AsyncClient:
    """An ``httpx.AsyncClient`` whose transport is a seawall :class:`AsyncTransport`."""
    return _build(_AsyncClient, AsyncTransport, kwargs)


C = TypeVar("C", "_Client", "_AsyncClient")


def _build(client_class: type[C], transport_class: type[Any], kwargs: dict[str, Any]) -> C:
    """A client of ``client_class`` on a seawall transport wrapping the one given, if any."""
    ours, rest = split_options(kwargs)
    transport = transport_class(rest.pop("transport", None), **ours)
    client = client_class(transport=transport, timeout=None, **rest)
    client._seawall = transport
    return client
