"""seawall for aiohttp (extra ``seawall[aiohttp]``): a client middleware and a session.

:class:`Middleware` is an aiohttp client middleware (aiohttp 3.12 or later); pass it
as ``aiohttp.ClientSession(middlewares=[Middleware()])``, or let :func:`ClientSession`
do it. Each request goes through the same client edge as seawall's httpx client, per
host: ``standard()``'s retry (with its retry budget), breaker and bulkhead; attempt
timeouts from the deadline, told to the callee in ``X-Request-Timeout-Ms``; only
network errors and 5xx/408/429 retried, with ``Retry-After`` honoured; one
``Idempotency-Key`` per logical POST/PATCH across its attempts.

An attempt's budget bounds connecting, sending and waiting for the response head
(``asyncio.timeout``); a retried attempt's response is read and released, so its
connection goes back to the pool. A response returned to the caller is read under the
session's own ``ClientTimeout``. When retries end on a retryable status the last
response is returned, already read (``raise_for_status`` stays the caller's choice);
with ``raise_for_status=True`` a :class:`~seawall.http.HTTPStatusError` is raised.
aiohttp's ``ClientResponseError`` (from its own ``raise_for_status``) is judged by its
``.status`` by :func:`seawall.transient`, like every status error.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, cast

import aiohttp
from yarl import URL

from seawall._drive import client_attempt
from seawall._errors import ConfigError
from seawall._outbound import (
    ClientPolicies,
    Edge,
    HTTPStatusError,
    edge_options,
    host_key,
    split_options,
)
from seawall.policies._breaker import CircuitBreaker

__all__ = ["ClientPolicies", "ClientSession", "HTTPStatusError", "Middleware"]

_Handler = Any  # aiohttp.ClientHandlerType, which aiohttp before 3.12 does not have


def _has_middlewares() -> bool:
    major, minor = (int(part) for part in aiohttp.__version__.split(".")[:2])
    return (major, minor) >= (3, 12)


def _key(url: Any) -> str:
    return host_key(url.scheme, url.host, url.port)


class Middleware:
    """An aiohttp client middleware with deadlines, retries, a breaker and a bulkhead per
    host; the options of :class:`seawall.http.Transport`, checked here
    (:class:`~seawall.ConfigError`)."""

    def __init__(self, **options: Any) -> None:
        if not _has_middlewares():
            raise ConfigError(
                f"seawall.aiohttp needs aiohttp >= 3.12 (client middlewares); "
                f"aiohttp {aiohttp.__version__} is installed"
            )
        self._edge = Edge(**edge_options(options), attempt=self._attempt)

    def policies(self, url: str) -> ClientPolicies:
        """The retry, breaker and bulkhead of ``url``'s host (made on first use)."""
        return self._edge.policies_for(_key(URL(url)))

    def breaker_for(self, url: str) -> CircuitBreaker:
        """The circuit breaker of ``url``'s host: its state and ``statistics()``."""
        return self._edge.breaker_for(_key(URL(url)))

    async def __call__(
        self, request: aiohttp.ClientRequest, handler: _Handler
    ) -> aiohttp.ClientResponse:
        send = self._edge.prepare(request.method, _key(request.url), request.headers)
        try:
            return cast(aiohttp.ClientResponse, await send((request, handler)))
        except HTTPStatusError as exc:
            if self._edge.raise_for_status:
                raise
            return cast(aiohttp.ClientResponse, exc.response)

    @client_attempt("http")
    async def _attempt(self, call: tuple[aiohttp.ClientRequest, _Handler]) -> Any:
        request, handler = call
        budget = self._edge.shape(request.headers, request.method, str(request.url))
        async with asyncio.timeout(budget):
            started = time.perf_counter()
            status: int | None = None
            try:
                response: aiohttp.ClientResponse = await handler(request)
                status = response.status
            finally:
                self._edge.observe(
                    request.method, _key(request.url), status, time.perf_counter() - started
                )
            retry_after = response.headers.get("Retry-After")
            try:
                return self._edge.judge(request, response, response.status, retry_after)
            except HTTPStatusError:
                await response.read()  # the caller may get it as the last answer
                response.release()
                raise


def ClientSession(**kwargs: Any) -> aiohttp.ClientSession:
    """An ``aiohttp.ClientSession`` with a seawall :class:`Middleware` first.

    seawall's options (see :class:`Middleware`) are taken out of ``kwargs``; everything
    else, including ``middlewares`` of your own (run inside seawall's, once per
    attempt), goes to ``aiohttp.ClientSession``. Call it inside a running event loop, as
    aiohttp requires.
    """
    ours, rest = split_options(kwargs)
    middlewares = (Middleware(**ours), *rest.pop("middlewares", ()))
    return aiohttp.ClientSession(middlewares=middlewares, **rest)
