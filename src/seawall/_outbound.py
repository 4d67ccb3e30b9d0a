"""The client edge's rules, whatever library sends the request.

Every outbound integration (httpx's transports, the ``requests`` adapter, the aiohttp
middleware) sends through one :class:`Edge`, so a request is treated the same whichever
library carries it:

* each host gets its own retry (with its own retry budget), circuit breaker and
  bulkhead from :func:`~seawall.standard` (``kind="http"``), kept in a bounded
  registry: separate pools per dependency, and a crawler cannot grow the map forever;
* each attempt's timeout comes from the deadline: ``downstream_timeout(cap)``, what the
  total (and any caller's deadline) leaves minus the reserve, capped at ``timeout``;
  the callee is told that very budget in ``X-Request-Timeout-Ms``, the attempt in
  ``X-Request-Attempt`` and the priority in ``X-Request-Priority``;
* only network errors and 5xx/408/429 are retried (:func:`seawall.transient`), never
  other 4xx, nor a 5xx whose server said "do not retry" (``X-Request-Retry: no``, or
  Envoy's ``x-envoy-overloaded``): a layer below already spent the retries it deserved;
  ``Retry-After`` is honoured when it fits the deadline;
* GET/HEAD/OPTIONS/PUT/DELETE/TRACE are idempotent and retried; POST/PATCH are retried
  only with an ``Idempotency-Key``, which the edge adds (one UUID per logical request,
  the same on every attempt) unless the caller set one or turned keys off;
* a host named in the ``hedge`` option hedges those same requests instead of retrying
  them (:class:`~seawall.Hedge`, one per host): every hedge is a copy of the request with
  the same ``Idempotency-Key``, under the same total timeout, breaker and bulkhead.

The library-specific part is small: how a timeout is handed to the socket, how a
response's status and headers are read, and how a discarded response is closed.
"""

from __future__ import annotations

import email.utils
import inspect
import random
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from datetime import UTC, timedelta
from typing import Any, Literal

from seawall._catalog import enroll, target_label
from seawall._clock import SYSTEM_CLOCK, Clock
from seawall._deadline import downstream_timeout
from seawall._drive import tracing
from seawall._durations import CLIENT, method_label
from seawall._errors import ConfigError, DeadlineExceeded, SeawallError
from seawall._hosts import HostPolicies
from seawall._operation import current_attempt, current_operation, new_key
from seawall._pipeline import Pipeline
from seawall._priority import current_priority
from seawall._pushback import SPENT, no_retry_answer
from seawall._transient import transient, transient_status
from seawall._validate import name as policy_name
from seawall.policies._backoff import Backoff
from seawall.policies._breaker import CircuitBreaker
from seawall.policies._bulkhead import Bulkhead
from seawall.policies._hedge import Hedge
from seawall.policies._registry import Registry
from seawall.policies._retry import Retry
from seawall.wire import (
    ATTEMPT_HEADER,
    PRIORITY_HEADER,
    TIMEOUT_HEADER,
    encode_timeout_ms,
)

__all__ = [
    "OPTIONS",
    "ClientPolicies",
    "Edge",
    "HTTPStatusError",
    "edge_options",
    "host_key",
    "parse_retry_after",
    "split_options",
]

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
KEYED_METHODS = frozenset({"POST", "PATCH"})
IDEMPOTENCY_HEADER = "Idempotency-Key"
# A budget this long (31 years) is no bound: the wire's 12-digit millisecond field cannot
# carry more, and a socket cannot be told to wait longer.
UNBOUNDED = 1e9
# Host keys remembered for their target label; cleared when full (the labels are capped
# in seawall._catalog anyway, this only bounds the cache).
_TARGET_CACHE = 4096
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


class HTTPStatusError(SeawallError):
    """A response with a retryable status (5xx, 408, 429), as an error.

    Carries ``status_code`` and ``retry_after`` (seconds, from ``Retry-After``) so
    :func:`seawall.transient` and Retry understand it, and the library's own
    ``request`` and ``response``.
    """

    def __init__(self, request: Any, response: Any, retry_after: float | None) -> None:
        status = getattr(response, "status_code", None)
        if status is None:  # aiohttp names it .status
            status = response.status
        super().__init__(f"{request.method} {request.url} answered {status}")
        self.request = request
        self.response = response
        self.status_code: int = status
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


def host_key(scheme: str, host: str | None, port: int | None) -> str:
    """The registry key of one dependency: scheme, host and port (default filled in)."""
    scheme = scheme.lower()
    return f"{scheme}://{host or ''}:{port or _DEFAULT_PORTS.get(scheme, 80)}"


@dataclass(frozen=True, slots=True)
class ClientPolicies:
    """One host's policies in a client: read their state, or snapshot them.

    ``seawall.snapshot(client.policies(url).pipeline)`` gives their counters; ``name`` is
    the client's name and ``target`` the host's ``host:port``, the labels their metrics
    carry.
    """

    name: str
    target: str
    retry: Retry
    breaker: CircuitBreaker
    bulkhead: Bulkhead

    @property
    def pipeline(self) -> Pipeline:
        """The policies in the order a request meets them."""
        return Pipeline(self.retry, self.breaker, self.bulkhead)


@dataclass(slots=True)
class _Dependency:
    """One host's senders: the attempt function wrapped in the host's own retry budget,
    breaker and bulkhead (composed once per host, not per request)."""

    retrying: Callable[[Any], Any]
    single: Callable[[Any], Any]
    policies: ClientPolicies
    hedge: Hedge | None = None  # kept for hedge_for()


class Edge:
    """Configuration, per-host policies and request shaping, for any client library.

    ``attempt(request)`` sends one attempt (sync or async); it calls :meth:`shape` first
    and :meth:`judge` on the response.
    """

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
        attempt: Callable[[Any], Any],
        name: str = "client",
        hedge: dict[str, dict[str, Any]] | None = None,
        clone: Callable[[Any], Any] | None = None,
    ) -> None:
        self.attempt = attempt
        self.clone = clone
        self.name = policy_name(name)
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
        self.hedge = _hedge_options(hedge, clone, self.clock, rng)
        self.hosts: Registry[_Dependency] = Registry(
            self._dependency, max_keys=max_hosts, clock=self.clock
        )
        self._targets: dict[str, str] = {}

    def _dependency(self, host: str) -> _Dependency:
        retry, breaker, bulkhead = self.policies.build(host)
        single = Retry(1, on=transient, name=host, clock=self.clock)
        # Metrics label a host's policies by the client's name and the host's address,
        # capped process-wide so a crawler cannot grow the number of series.
        target = target_label(host.partition("://")[2] or host)
        for policy in (retry, single, breaker, bulkhead):
            enroll(policy, self.name, target)
        options = self._hedged(host)
        if options is not None:
            # One attempt and its hedges under the host's total timeout, in the Retry's
            # place: hedging and retrying are exclusive per request.
            total = Retry(1, on=transient, timeout=retry.timeout, name=host, clock=self.clock)
            hedge = Hedge(**{"name": host, "clock": self.clock, **options})
            enroll(total, self.name, target)
            enroll(hedge, self.name, target)
            return _Dependency(
                Pipeline(total, hedge, breaker, bulkhead)(self._copies()),
                Pipeline(single, breaker, bulkhead)(self.attempt),
                ClientPolicies(self.name, target, total, breaker, bulkhead),
                hedge,
            )
        return _Dependency(
            Pipeline(retry, breaker, bulkhead)(self.attempt),
            Pipeline(single, breaker, bulkhead)(self.attempt),
            ClientPolicies(self.name, target, retry, breaker, bulkhead),
        )

    def policies_for(self, key: str) -> ClientPolicies:
        """The policies of the host with registry key ``key`` (see :func:`host_key`)."""
        return self.hosts.get(key).policies

    def _hedged(self, key: str) -> dict[str, Any] | None:
        """The Hedge options of host ``key`` (``scheme://host:port``), if it is hedged."""
        if not self.hedge:
            return None
        address = key.split("://", 1)[-1]
        hostname = address.rsplit(":", 1)[0]
        return self.hedge.get(address, self.hedge.get(hostname))

    def _copies(self) -> Callable[[Any], Any]:
        """The attempt, sent as a copy of the request: hedges run at once, each shaped."""
        attempt, clone = self.attempt, self.clone
        assert clone is not None  # _hedge_options requires it

        if inspect.iscoroutinefunction(attempt):

            async def send_copy(request: Any) -> Any:
                return await attempt(clone(request))

            return send_copy

        def send(request: Any) -> Any:
            return attempt(clone(request))

        return send

    def breaker_for(self, key: str) -> CircuitBreaker:
        """The circuit breaker of the host with registry key ``key`` (see :func:`host_key`)."""
        return self.hosts.get(key).policies.breaker

    def observe(self, method: str, key: str, status: int | None, seconds: float) -> None:
        """Count one attempt to host ``key`` in ``http.client.request.duration``."""
        target = self._targets.get(key)
        if target is None:
            target = self._targets[key] = target_label(key.partition("://")[2] or key)
            if len(self._targets) > _TARGET_CACHE:
                self._targets.clear()
        CLIENT.record((self.name, target, method_label(method), status), seconds)

    def hedge_for(self, key: str) -> Hedge | None:
        """The Hedge of the host with registry key ``key``; None if it is not hedged."""
        return self.hosts.get(key).hedge

    def prepare(
        self, method: str, key: str, headers: MutableMapping[str, Any], *, replayable: bool = True
    ) -> Callable[[Any], Any]:
        """Choose how to send a request to host ``key``; add the idempotency key it needs.

        ``headers`` must match names case-insensitively, as every client library's do. A
        body that cannot be sent twice (a stream already read) is sent once.
        """
        dependency = self.hosts.get(key)
        if not replayable:
            return dependency.single
        method = method.upper()
        if method in KEYED_METHODS and IDEMPOTENCY_HEADER not in headers:
            if not self.idempotency_keys:
                return dependency.single
            # The caller's own retry (if any) owns the logical operation; else a new key.
            op = current_operation()
            headers[IDEMPOTENCY_HEADER] = op.key if op is not None else new_key()
        if method in IDEMPOTENT_METHODS or IDEMPOTENCY_HEADER in headers:
            return dependency.retrying
        return dependency.single

    def shape(
        self, headers: MutableMapping[str, Any], method: str = "GET", url: object = ""
    ) -> float | None:
        """Set this attempt's wire headers; return its timeout (None: nothing bounds it).

        Raises :class:`~seawall.DeadlineExceeded` when no time is left to send anything.
        With tracing installed, the attempt's span is described (``method``, ``url``) and
        its trace context goes out in ``traceparent``; ``url`` (a string or the library's
        URL object) is only turned into a string then.
        """
        budget = downstream_timeout(self.timeout)
        if budget is not None and budget >= UNBOUNDED:
            budget = None  # no cap, no total and no deadline: the library waits as told
        if budget is not None and budget <= 0.0:
            raise DeadlineExceeded("no time left for the request")
        headers[ATTEMPT_HEADER] = str(current_attempt())
        if budget is not None:
            headers[TIMEOUT_HEADER] = encode_timeout_ms(budget)
        priority = current_priority()
        if priority is not None:
            headers[PRIORITY_HEADER] = priority
        spans = tracing.spans
        if spans is not None:
            spans.client_request(headers, method, str(url))
        return budget

    def judge(self, request: Any, response: Any, status: int, retry_after: str | None) -> Any:
        """Raise for a retryable status so the policies see a failure; else ``response``."""
        spans = tracing.spans
        if spans is not None:
            spans.client_status(status)
        if transient_status(status):
            error = HTTPStatusError(request, response, parse_retry_after(retry_after))
            if status >= 500 and no_retry_answer(response.headers):
                setattr(error, SPENT, True)  # the server said not to retry: seawall._pushback
            raise error
        return response


def _hedge_options(
    hedge: object,
    clone: Callable[[Any], Any] | None,
    clock: Clock,
    rng: random.Random | None,
) -> dict[str, dict[str, Any]]:
    """The ``hedge`` option, checked: host (``name`` or ``name:port``) -> Hedge arguments.

    One Hedge is built per entry here, so a bad argument fails when the client is made.
    """
    if hedge is None:
        return {}
    if not isinstance(hedge, dict) or not all(
        isinstance(host, str) and isinstance(options, dict) for host, options in hedge.items()
    ):
        raise ConfigError(
            f"hedge must map hosts to dicts of Hedge options, e.g. "
            f"{{'api.internal': {{'delay': 'p95'}}}}, got {hedge!r}"
        )
    if clone is None:
        raise ConfigError(
            "hedge is available on seawall.http.Client/AsyncClient and seawall.requests; "
            "not on seawall.aiohttp, whose middleware cannot send one request twice at once"
        )
    checked: dict[str, dict[str, Any]] = {}
    for host, options in hedge.items():
        if {"clock", "name"} & set(options):
            raise ConfigError(f"hedge[{host!r}]: clock and name come from the client")
        options = {"rng": rng, **options}
        try:
            Hedge(name=host, clock=clock, **options)
        except (TypeError, ConfigError) as exc:
            raise ConfigError(f"hedge[{host!r}]: {exc}") from exc
        checked[host.lower()] = options
    return checked


def _flag(value: object, option: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{option} must be True or False, got {value!r}")
    return value


# None: standard()'s own default (5 s per attempt, 10 s in all, 3 attempts, 64/64).
_DEFAULTS: dict[str, Any] = {
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
    "name": "client",
    "hedge": None,
    "clock": None,
    "rng": None,
}
OPTIONS = frozenset(_DEFAULTS)


def edge_options(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Every :class:`Edge` option, defaults filled in; an unknown one is a TypeError."""
    unknown = set(kwargs) - OPTIONS
    if unknown:
        raise TypeError(f"unexpected seawall client options: {', '.join(sorted(unknown))}")
    return {**_DEFAULTS, **kwargs}


def split_options(kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(seawall's options, the rest for the library's own session or client)."""
    ours = {k: v for k, v in kwargs.items() if k in OPTIONS}
    rest = {k: v for k, v in kwargs.items() if k not in OPTIONS}
    return ours, rest
