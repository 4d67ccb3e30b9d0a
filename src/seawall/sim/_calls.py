"""A call from simulated code to a simulated service, as a policy sees it.

A request a service refuses (every place taken) or fails (an injected error) raises
:class:`ServiceError`, a ``ConnectionError`` with an HTTP-like ``status_code``, so
``seawall.transient`` treats it as a real 503 or 500 and the real retry, breaker and
fallback code react to it as they would in production.

A service whose own call downstream was spent (its retry budget refused the retries, or
the answer it got said not to retry) answers :data:`NO_RETRY`, and the caller's error is
marked spent, as a real server edge answers ``X-Request-Retry: no`` and a real client
edge reads it (:mod:`seawall._pushback`): only the layer right above a failing service
retries.
"""

from __future__ import annotations

import asyncio
import functools
import math
from asyncio import Future
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from seawall._deadline import remaining
from seawall._drive import chain_async
from seawall._pushback import SPENT
from seawall.policies._base import Policy
from seawall.wire import _MS_MAX_VALUE

__all__ = ["NO_RETRY", "Answer", "ServiceError", "Target", "bind", "request", "whole_ms"]

Answer = int
"""What a service tells a request's caller: ``True`` (done), ``False`` (failed) or
:data:`NO_RETRY`."""

NO_RETRY: Answer = 0
"""A failed answer that says "do not retry": falsy like ``False``, told apart by type."""


class Target(Protocol):
    """What a request needs of a service: its name, and a place to submit to.

    ``deadlines`` and ``drop_expired`` say whether it reads the deadline that comes with
    a request; one that does neither is not sent it.
    """

    name: str

    @property
    def deadlines(self) -> bool: ...

    @property
    def drop_expired(self) -> bool: ...

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None: ...

    def submit(
        self, done: Callable[[Answer], object] | None, budget: float | None = None
    ) -> bool: ...


class ServiceError(ConnectionError):
    """A simulated service refused (503, its queue was full) or failed (500) a request."""

    def __init__(self, service: str, refused: bool, *, spent: bool = False) -> None:
        self.service = service
        self.refused = refused
        self.status_code = 503 if refused else 500
        if spent:
            setattr(self, SPENT, True)
        super().__init__(f"{service} {'refused' if refused else 'failed'} the request")


async def request(service: Target) -> None:
    """Send one request to ``service`` and wait for its answer; raise if it is an error.

    The caller's deadline, if one is in force, crosses the hop as a real edge sends it:
    whole milliseconds, rounded down (``X-Request-Timeout-Ms``). A caller that gives up
    (its task is cancelled) stops waiting; the service still works on the request to
    the end, as a server that cannot see its caller leave does.
    """
    budget = None
    if service.deadlines or service.drop_expired:  # a service that reads it
        left = remaining()
        if left is not None:
            budget = whole_ms(left)
    answer: asyncio.Future[Answer] = Future(loop=service.loop)  # the world's loop, not looked up

    def reply(ok: Answer) -> None:
        if not answer.done():
            answer.set_result(ok)

    if not service.submit(reply, budget):
        raise ServiceError(service.name, refused=True)
    ok = await answer
    if not ok:
        raise ServiceError(service.name, refused=False, spent=ok is not False)


def whole_ms(seconds: float) -> float:
    """``seconds`` as it arrives through ``X-Request-Timeout-Ms``: whole ms, rounded down.

    The arithmetic of ``parse_timeout_ms(encode_timeout_ms(seconds))`` without the text
    in between (and its regular expression), which every hop of a run would pay for.
    """
    ms = seconds * 1000.0
    if ms >= _MS_MAX_VALUE:
        return _MS_MAX_VALUE / 1000.0
    return max(0, math.floor(ms)) / 1000.0


def bind(policy: Any, fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """``fn`` under ``policy``, built once for every call the caller will make with it.

    A seawall policy's ``acall`` assembles its driver on every call; the decorator form
    assembles it once, and a run of millions of calls through the same few thousand
    policies spends a tenth of its time on that. The driver is the same either way.
    Anything else with an ``acall`` is called through it.
    """
    if isinstance(policy, Policy):
        return chain_async(policy._stack(), fn)
    return functools.partial(policy.acall, fn)
