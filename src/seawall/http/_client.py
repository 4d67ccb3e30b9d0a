"""The client edge: httpx transports that apply seawall's policies per host.

``Transport`` / ``AsyncTransport`` wrap any httpx transport. Per request:

* each host's retry, budget, breaker and bulkhead are :func:`~seawall.standard`'s
  (``kind="http"``), so the client keeps its defaults and its validation: 5 s per
  attempt, 10 s in all, 3 attempts; each option overrides one ``standard()`` argument;
* the attempt timeout comes from the deadline — ``downstream_timeout(cap)``, what the
  total (and any caller's deadline) leaves minus the reserve, capped at ``timeout`` —
  and is applied to httpx's connect/read/write/pool timeouts; the callee is told its
  budget in ``X-Request-Timeout-Ms``, the attempt in ``X-Request-Attempt`` and the
  priority in ``X-Request-Priority``;
* only network errors and 5xx/408/429 are retried (:func:`seawall.transient`), never
  other 4xx; ``Retry-After`` is honoured when it fits the deadline;
* GET/HEAD/OPTIONS/PUT/DELETE/TRACE are idempotent and retried; POST/PATCH are retried
  only with an ``Idempotency-Key``, which the transport adds (one UUID per logical
  request, the same on every attempt) unless the caller set one or turned it off;
* each host gets its own retry budget, circuit breaker and bulkhead (separate pools per
  dependency), from a bounded registry.

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

import email.utils
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, timedelta
from typing import Any, Literal, cast

import httpx

from seawall._clock import SYSTEM_CLOCK, Clock
from seawall._deadline import downstream_timeout
from seawall._errors import ConfigError, DeadlineExceeded, SeawallError
from seawall._operation import current_attempt, current_operation
from seawall._pipeline import Pipeline
from seawall._priority import current_priority
from seawall._transient import transient, transient_status
from seawall.http._hosts import HostPolicies
from seawall.policies._backoff import Backoff
from seawall.policies._breaker import CircuitBreaker
from seawall.policies._registry import Registry
from seawall.policies._retry import Retry
from seawall.wire import (
    ATTEMPT_HEADER,
    PRIORITY_HEADER,
    TIMEOUT_HEADER,
    encode_timeout_ms,
)

__all__ = [
    "AsyncClient",
    "AsyncTransport",
    "Client",
    "HTTPStatusError",
    "Transport",
    "parse_retry_after",
]

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
KEYED_METHODS = frozenset({"POST", "PATCH"})
IDEMPOTENCY_HEADER = "Idempotency-Key"
_PHASES = ("connect", "read", "write", "pool")
# A budget this long (31 years) is no bound: the wire's 12-digit millisecond field cannot
# carry more, and a socket cannot be told to wait longer.
_UNBOUNDED = 1e9


class HTTPStatusError(SeawallError):
    """A response with a retryable status (5xx, 408, 429), as an error.

    Carries ``status_code`` and ``retry_after`` (seconds, from ``Retry-After``) so
    :func:`seawall.transient` and Retry understand it, and the ``response`` itself.
    """

    def __init__(
        self, request: httpx.Request, response: httpx.Response, retry_after: float | None
    ) -> None:
        super().__init__(f"{request.method} {request.url} answered {response.status_code}")
        self.request = request
        self.response = response
        self.status_code = response.status_code
        self.retry_after = retry_after


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` value (delta-seconds or an HTTP-date); None if bad."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(int(text))
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    wall = time.time() if now is None else now
    return max(0.0, when.timestamp() - wall)


@dataclass(slots=True)
class _Dependency:
    """One host's senders: the transport's attempt function wrapped in the host's own retry
    budget, breaker and bulkhead (composed once per host, not per request)."""

    retrying: Callable[[httpx.Request], Any]
    single: Callable[[httpx.Request], Any]
    breaker: CircuitBreaker  # kept for breaker_for()


class _Edge:
    """What both transports share: configuration, per-host policies, request shaping."""

    def __init__(
        self,
        *,
        timeout: float | timedelta | None,
        total_timeout: float | timedelta | None,
        attempts: int | None,
        backoff: Backoff | None,
        retry_budget: float | Literal[False] | None,
        breaker: dict[str, Any] | None,
        max_concurrent: int | None,
        max_queue: int | None,
        idempotency_keys: bool,
        raise_for_status: bool,
        max_hosts: int,
        clock: Clock | None,
        rng: random.Random | None,
        attempt: Callable[[httpx.Request], Any],
    ) -> None:
        self.attempt = attempt
        self.idempotency_keys = _flag(idempotency_keys, "idempotency_keys")
        self.raise_for_status = _flag(raise_for_status, "raise_for_status")
        if not isinstance(max_hosts, int) or isinstance(max_hosts, bool) or max_hosts < 1:
            raise ConfigError(f"max_hosts must be an integer >= 1, got {max_hosts!r}")
        self.clock = clock or SYSTEM_CLOCK
        self.policies = HostPolicies(
            timeout=timeout,
            total_timeout=total_timeout,
            attempts=attempts,
            backoff=backoff,
            retry_budget=retry_budget,
            breaker=breaker,
            max_concurrent=max_concurrent,
            max_queue=max_queue,
            clock=self.clock,
            rng=rng or random.Random(),
        )
        self.timeout = self.policies.timeout
        self.hosts: Registry[_Dependency] = Registry(
            self._dependency, max_keys=max_hosts, clock=self.clock
        )

    def _dependency(self, host: str) -> _Dependency:
        retry, breaker, bulkhead = self.policies.build(host)
        single = Retry(1, on=transient, name=host, clock=self.clock)
        return _Dependency(
            Pipeline(retry, breaker, bulkhead)(self.attempt),
            Pipeline(single, breaker, bulkhead)(self.attempt),
            breaker,
        )

    def breaker_for(self, url: httpx.URL | str) -> CircuitBreaker:
        """The circuit breaker of ``url``'s host (for dashboards and tests)."""
        return self.hosts.get(_host_key(httpx.URL(url))).breaker

    def prepare(self, request: httpx.Request) -> Callable[[httpx.Request], Any]:
        """Choose how to send ``request`` and add the idempotency key if it needs one."""
        dependency = self.hosts.get(_host_key(request.url))
        method = request.method.upper()
        if method in KEYED_METHODS and IDEMPOTENCY_HEADER not in request.headers:
            if not self.idempotency_keys:
                return dependency.single
            # The caller's own retry (if any) owns the logical operation; else a new key.
            op = current_operation()
            request.headers[IDEMPOTENCY_HEADER] = op.key if op is not None else _new_key()
        if method in IDEMPOTENT_METHODS or IDEMPOTENCY_HEADER in request.headers:
            return dependency.retrying
        return dependency.single

    def shape(self, request: httpx.Request) -> None:
        """Set this attempt's timeout and wire headers."""
        budget = downstream_timeout(self.timeout)
        assert budget is not None  # the cap is never None
        if budget <= 0.0:
            raise DeadlineExceeded("no time left for the request")
        given = request.extensions.get("timeout")
        wire = {ATTEMPT_HEADER: str(current_attempt())}
        if budget >= _UNBOUNDED:  # no cap, no total and no deadline: httpx waits as told
            request.extensions["timeout"] = given or dict.fromkeys(_PHASES)
        else:
            if given:
                request.extensions["timeout"] = {
                    phase: budget if (t := given.get(phase)) is None or t > budget else t
                    for phase in _PHASES
                }
            else:
                request.extensions["timeout"] = dict.fromkeys(_PHASES, budget)
            wire[TIMEOUT_HEADER] = encode_timeout_ms(budget)
        priority = current_priority()
        if priority is not None:
            wire[PRIORITY_HEADER] = priority
        request.headers.update(wire)

    def judge(self, request: httpx.Request, response: httpx.Response) -> httpx.Response:
        """Raise for a retryable status so the policies see a failure."""
        status = response.status_code
        if transient_status(status):
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            raise HTTPStatusError(request, response, retry_after)
        return response


def _new_key() -> str:
    return str(uuid.uuid4())


def _host_key(url: httpx.URL) -> str:
    port = url.port or (443 if url.scheme == "https" else 80)
    return f"{url.scheme}://{url.host}:{port}"


def _flag(value: object, option: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{option} must be True or False, got {value!r}")
    return value


def _edge_options(kwargs: dict[str, Any]) -> dict[str, Any]:
    # None: standard()'s own default (5 s per attempt, 10 s in all, 3 attempts, 64/64).
    defaults: dict[str, Any] = {
        "timeout": None,
        "total_timeout": None,
        "attempts": None,
        "backoff": None,
        "retry_budget": None,
        "breaker": None,
        "max_concurrent": None,
        "max_queue": None,
        "idempotency_keys": True,
        "raise_for_status": False,
        "max_hosts": 1000,
        "clock": None,
        "rng": None,
    }
    unknown = set(kwargs) - set(defaults)
    if unknown:
        raise TypeError(f"unexpected seawall transport options: {', '.join(sorted(unknown))}")
    defaults.update(kwargs)
    return defaults


class Transport(httpx.BaseTransport):
    """A sync httpx transport with deadlines, retries, a breaker and a bulkhead per host.

    Options, each overriding one :func:`~seawall.standard` argument (``kind="http"``):
    ``timeout`` (cap per attempt, 5 s; ``inf`` for none), ``total_timeout`` (every
    attempt and backoff together, 10 s; ``inf`` for none), ``attempts`` (3), ``backoff``,
    ``retry_budget`` (ratio, 0.1; ``False`` for none), ``breaker`` (a dict of
    CircuitBreaker keyword arguments, e.g. ``failure_rate``, ``min_calls``, ``cooldown``),
    ``max_concurrent`` / ``max_queue`` (64 / 64 per host), ``clock``, ``rng``; and the
    client's own ``idempotency_keys`` (True),
    ``raise_for_status`` (False), ``max_hosts`` (1000). A bad value raises
    :class:`~seawall.ConfigError` here.
    """

    def __init__(self, transport: httpx.BaseTransport | None = None, **options: Any) -> None:
        self._inner = transport or httpx.HTTPTransport()
        self._edge = _Edge(**_edge_options(options), attempt=self._attempt)

    def breaker_for(self, url: httpx.URL | str) -> CircuitBreaker:
        return self._edge.breaker_for(url)

    def _attempt(self, request: httpx.Request) -> httpx.Response:
        self._edge.shape(request)
        response = self._inner.handle_request(request)
        try:
            return self._edge.judge(request, response)
        except HTTPStatusError:
            response.read()
            response.close()
            raise

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        send = self._edge.prepare(request)
        request.read()  # buffer the body so every attempt can send it again
        try:
            return cast(httpx.Response, send(request))
        except HTTPStatusError as exc:
            if self._edge.raise_for_status:
                raise
            return exc.response

    def close(self) -> None:
        self._inner.close()


class AsyncTransport(httpx.AsyncBaseTransport):
    """The asyncio twin of :class:`Transport`, with the same options."""

    def __init__(self, transport: httpx.AsyncBaseTransport | None = None, **options: Any) -> None:
        self._inner = transport or httpx.AsyncHTTPTransport()
        self._edge = _Edge(**_edge_options(options), attempt=self._attempt)

    def breaker_for(self, url: httpx.URL | str) -> CircuitBreaker:
        return self._edge.breaker_for(url)

    async def _attempt(self, request: httpx.Request) -> httpx.Response:
        self._edge.shape(request)
        response = await self._inner.handle_async_request(request)
        try:
            return self._edge.judge(request, response)
        except HTTPStatusError:
            await response.aread()
            await response.aclose()
            raise

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        send = self._edge.prepare(request)
        await request.aread()
        try:
            return cast(httpx.Response, await send(request))
        except HTTPStatusError as exc:
            if self._edge.raise_for_status:
                raise
            return exc.response

    async def aclose(self) -> None:
        await self._inner.aclose()


_TRANSPORT_OPTIONS = frozenset(_edge_options({}))


def _split(kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    ours = {k: kwargs.pop(k) for k in list(kwargs) if k in _TRANSPORT_OPTIONS}
    return ours, kwargs


def Client(**kwargs: Any) -> httpx.Client:
    """An ``httpx.Client`` whose transport is a seawall :class:`Transport`.

    seawall options (see :class:`Transport`) are taken out of ``kwargs``; everything else
    goes to ``httpx.Client``. A ``transport=`` given is wrapped, not replaced. ``timeout``
    is seawall's per-attempt cap, so httpx's own default timeout is off: a per-request
    ``timeout=`` still applies, within seawall's.
    """
    ours, rest = _split(dict(kwargs))
    inner = rest.pop("transport", None)
    return httpx.Client(transport=Transport(inner, **ours), timeout=None, **rest)


def AsyncClient(**kwargs: Any) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` whose transport is a seawall :class:`AsyncTransport`."""
    ours, rest = _split(dict(kwargs))
    inner = rest.pop("transport", None)
    return httpx.AsyncClient(transport=AsyncTransport(inner, **ours), timeout=None, **rest)
