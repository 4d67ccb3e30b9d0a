"""seawall for ``requests`` (extra ``seawall[requests]``): an adapter and a session.

``Session()`` is a ``requests.Session`` with a seawall :class:`Adapter` mounted for
``http://`` and ``https://``; an :class:`Adapter` can also be mounted on a session of
your own. Each request goes through the same client edge as seawall's httpx client, per
host: ``standard()``'s retry (with its retry budget), breaker and bulkhead; attempt
timeouts from the deadline, told to the callee in ``X-Request-Timeout-Ms``; only
network errors and 5xx/408/429 retried, with ``Retry-After`` honoured; one
``Idempotency-Key`` per logical POST/PATCH across its attempts.

urllib3's own retries are off (``max_retries=0``): two retry layers multiply, and only
seawall's knows the deadline and the retry budget. An attempt's budget becomes the
``(connect, read)`` timeout urllib3 is given (a ``timeout=`` passed to a request still
applies, within it); the read timeout bounds each wait for bytes, as in ``requests``.
Without ``stream=True`` the body is read inside the attempt, so a connection broken
mid-body is retried like one refused. The response of an attempt that is retried is
read and closed, so its connection goes back to the pool instead of leaking.

When retries end on a retryable status the last response is returned, as ``requests``
does (``raise_for_status()`` stays the caller's choice); with ``raise_for_status=True``
a :class:`~seawall.http.HTTPStatusError` is raised instead. An open breaker or a full
bulkhead raises :class:`~seawall.Rejected` without sending anything.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

import requests
import requests.adapters

from seawall._drive import client_attempt
from seawall._outbound import ClientPolicies, Edge, HTTPStatusError, edge_options, host_key
from seawall.policies._breaker import CircuitBreaker
from seawall.policies._hedge import Hedge

__all__ = ["Adapter", "ClientPolicies", "HTTPStatusError", "Session"]


def _key(url: str) -> str:
    # Only the scheme and authority name the host: parse those, once per distinct pair.
    scheme, _, rest = url.partition("://")
    return _authority_key(scheme, rest.partition("/")[0].partition("?")[0].partition("#")[0])


@functools.lru_cache(maxsize=1024)
def _authority_key(scheme: str, authority: str) -> str:
    parts = urlsplit(f"{scheme}://{authority}")
    return host_key(parts.scheme, parts.hostname, parts.port)


def _bounded(given: Any, budget: float | None) -> Any:
    """The ``(connect, read)`` timeout of one attempt: the caller's, within ``budget``."""
    if budget is None:
        return given
    if given is None:
        return (budget, budget)
    if isinstance(given, tuple):
        connect, read = given
    elif isinstance(given, int | float):
        connect = read = given
    else:  # a urllib3 Timeout
        connect = getattr(given, "connect_timeout", None)
        read = getattr(given, "read_timeout", None)
    return tuple(
        budget if not isinstance(t, int | float) or t > budget else t for t in (connect, read)
    )


@dataclass(slots=True)
class _Send:
    """One logical request and the arguments ``requests`` sends it with."""

    request: requests.PreparedRequest
    stream: bool
    timeout: Any
    verify: Any
    cert: Any
    proxies: Mapping[str, str] | None


def _clone(call: _Send) -> _Send:
    """A copy of the request for a hedge: its own headers, so each attempt is shaped alone."""
    return _Send(
        call.request.copy(), call.stream, call.timeout, call.verify, call.cert, call.proxies
    )


class Adapter(requests.adapters.HTTPAdapter):
    """A ``requests`` transport adapter with deadlines, retries, a breaker and a bulkhead
    per host.

    Takes the options of :class:`seawall.http.Transport` (``timeout``,
    ``total_timeout``, ``attempts``, ``backoff``, ``retry_budget``, ``breaker``,
    ``max_concurrent``, ``max_queue``, ``idempotency_keys``, ``raise_for_status``,
    ``max_hosts``, ``name``, ``clock``, ``rng``, ``hedge``), checked here
    (:class:`~seawall.ConfigError`), plus ``HTTPAdapter``'s pool options. ``max_retries``
    is not one: urllib3 never retries under seawall.

    ``hedge`` maps hosts to :class:`~seawall.Hedge` options, as on the httpx client. A
    ``requests`` call cannot be interrupted, so hedges run on the Hedge's bounded thread
    pool (``max_workers``, 8 by default) and a loser is abandoned, not cancelled: it runs
    to its end (within its attempt timeout) and its response is dropped. With every
    worker busy a request goes unhedged rather than queue (``hedges_pool_refused``).
    Give ``pool_maxsize`` room for the copies: each needs its own connection.
    """

    def __init__(
        self,
        *,
        pool_connections: int = requests.adapters.DEFAULT_POOLSIZE,
        pool_maxsize: int = requests.adapters.DEFAULT_POOLSIZE,
        pool_block: bool = requests.adapters.DEFAULT_POOLBLOCK,
        **options: Any,
    ) -> None:
        self._edge = Edge(**edge_options(options), attempt=self._attempt, clone=_clone)
        super().__init__(
            pool_connections=pool_connections,
            pool_maxsize=pool_maxsize,
            max_retries=0,
            pool_block=pool_block,
        )

    def policies(self, url: str) -> ClientPolicies:
        """The retry, breaker and bulkhead of ``url``'s host (made on first use)."""
        return self._edge.policies_for(_key(url))

    def breaker_for(self, url: str) -> CircuitBreaker:
        """The circuit breaker of ``url``'s host: its state and ``statistics()``."""
        return self._edge.breaker_for(_key(url))

    def hedge_for(self, url: str) -> Hedge | None:
        """The host's :class:`~seawall.Hedge` (its counters), or None if it is not hedged."""
        return self._edge.hedge_for(_key(url))

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        # A body that is a stream or a file is spent by the first attempt: sent once.
        replayable = request.body is None or isinstance(request.body, bytes | str)
        send = self._edge.prepare(
            request.method or "GET", _key(request.url or ""), request.headers, replayable=replayable
        )
        try:
            return cast(
                requests.Response, send(_Send(request, stream, timeout, verify, cert, proxies))
            )
        except HTTPStatusError as exc:
            if self._edge.raise_for_status:
                raise
            return cast(requests.Response, exc.response)

    @client_attempt("http")
    def _attempt(self, call: _Send) -> requests.Response:
        request = call.request
        budget = self._edge.shape(request.headers, request.method or "GET", request.url or "")
        started = time.perf_counter()
        status: int | None = None
        try:
            response = super().send(
                call.request,
                stream=call.stream,
                timeout=_bounded(call.timeout, budget),
                verify=call.verify,
                cert=call.cert,
                proxies=dict(call.proxies) if call.proxies is not None else None,
            )
            status = response.status_code
        finally:
            self._edge.observe(
                request.method or "GET",
                _key(request.url or ""),
                status,
                time.perf_counter() - started,
            )
        try:
            if not call.stream:
                _ = response.content  # inside the attempt: a body cut short is retried
            retry_after = response.headers.get("retry-after")
            return cast(
                requests.Response,
                self._edge.judge(call.request, response, response.status_code, retry_after),
            )
        except HTTPStatusError:
            _ = response.content  # read to the end, the connection goes back to the pool
            response.close()
            raise
        except BaseException:
            response.close()  # a broken connection is dropped, never leaked
            raise


class Session(requests.Session):
    """A ``requests.Session`` whose ``http://`` and ``https://`` go through an
    :class:`Adapter`, made from the keyword arguments given (checked here)."""

    def __init__(self, **options: Any) -> None:
        super().__init__()
        self.adapter = Adapter(**options)
        self.mount("http://", self.adapter)
        self.mount("https://", self.adapter)

    def policies(self, url: str) -> ClientPolicies:
        """The retry, breaker and bulkhead of ``url``'s host (made on first use)."""
        return self.adapter.policies(url)

    def breaker_for(self, url: str) -> CircuitBreaker:
        """The circuit breaker of ``url``'s host: its state and ``statistics()``."""
        return self.adapter.breaker_for(url)

    def hedge_for(self, url: str) -> Hedge | None:
        """The host's :class:`~seawall.Hedge` (its counters), or None if it is not hedged."""
        return self.adapter.hedge_for(url)
