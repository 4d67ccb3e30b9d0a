"""In-process fault injection, like Polly's chaos strategies: an ASGI middleware (server
side) and httpx transports (client side) that add latency, answer with an error status,
raise, or abort, each at its own injection ``rate``.

Both edges share one pure decision (:meth:`Injector.decide`): latency faults add up,
then the first terminal fault (error response, exception, abort) that fires ends the
request. The random source and the clock are injected (``rng=``, ``clock=``), so a test
can pin exactly which requests fail and run the delays on a FakeClock.

Chaos is off unless explicitly switched on: ``enabled=False`` is the default, and a
disabled injector neither rolls dice nor waits. Every injected fault is a
:class:`FaultInjected` event.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from seawall._clock import SYSTEM_CLOCK, Clock
from seawall._errors import ConfigError, SeawallError
from seawall._events import Event, emit

__all__ = [
    "Abort",
    "AsyncChaosTransport",
    "ChaosMiddleware",
    "ChaosTransport",
    "ErrorResponse",
    "Fault",
    "FaultInjected",
    "InjectedFault",
    "Injector",
    "Latency",
]


def _check_rate(rate: float) -> None:
    if not 0.0 <= rate <= 1.0:
        raise ConfigError(f"chaos: rate must be between 0 and 1, got {rate!r}")


@dataclass(frozen=True, slots=True)
class Latency:
    """Delay the request by ``seconds`` ± ``jitter`` (uniform), at injection ``rate``."""

    seconds: float
    jitter: float = 0.0
    rate: float = 1.0

    def __post_init__(self) -> None:
        _check_rate(self.rate)
        if not self.seconds >= 0 or not self.jitter >= 0:
            raise ConfigError("chaos: latency seconds and jitter must be >= 0")


@dataclass(frozen=True, slots=True)
class ErrorResponse:
    """Answer ``status`` without calling the app or the network, at ``rate``.

    A 503 or 429 carries ``Retry-After`` (``retry_after`` seconds), as every 503/429 that
    seawall produces does.
    """

    status: int = 503
    body: bytes = b"chaos: injected error\n"
    headers: tuple[tuple[str, str], ...] = ()
    retry_after: int = 1
    rate: float = 1.0

    def __post_init__(self) -> None:
        _check_rate(self.rate)
        if not 400 <= self.status <= 599:
            raise ConfigError(f"chaos: an error status is 400-599, got {self.status!r}")

    def header_list(self) -> list[tuple[str, str]]:
        headers = [("content-type", "text/plain; charset=utf-8"), *self.headers]
        if self.status in (429, 503) and not any(k.lower() == "retry-after" for k, _ in headers):
            headers.append(("retry-after", str(self.retry_after)))
        return headers


@dataclass(frozen=True, slots=True)
class Fault:
    """Raise an exception made by ``error()``, at ``rate`` (Polly's chaos fault).

    By default: :class:`InjectedFault` in the middleware (the server answers 500) and
    ``httpx.ConnectError`` in a transport (the request never left).
    """

    error: Callable[[], BaseException] | None = None
    rate: float = 1.0

    def __post_init__(self) -> None:
        _check_rate(self.rate)


@dataclass(frozen=True, slots=True)
class Abort:
    """Drop the connection mid-response, at ``rate``.

    The middleware starts a response and then fails it, so the server cuts the
    connection; a transport raises ``httpx.RemoteProtocolError`` as if the server had
    disconnected without a complete response.
    """

    rate: float = 1.0

    def __post_init__(self) -> None:
        _check_rate(self.rate)


ChaosFault = Latency | ErrorResponse | Fault | Abort


class InjectedFault(SeawallError):
    """An exception raised on purpose by in-process chaos."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultInjected(Event):
    """Chaos ``name`` injected ``fault`` ("latency", "error_response", "fault", "abort")."""

    fault: str
    delay: float = 0.0
    status: int | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do to one request: wait ``delay`` seconds, then ``outcome`` (or proceed)."""

    delay: float = 0.0
    outcome: ErrorResponse | Fault | Abort | None = None


_PROCEED = Decision()
_KIND = {ErrorResponse: "error_response", Fault: "fault", Abort: "abort"}


@dataclass
class Injector:
    """The faults, the switch, the dice and the clock, shared by both edges."""

    faults: tuple[ChaosFault, ...]
    enabled: bool = False
    rng: random.Random = field(default_factory=random.Random)
    clock: Clock = SYSTEM_CLOCK
    name: str = "chaos"

    def __post_init__(self) -> None:
        for fault in self.faults:
            if not isinstance(fault, Latency | ErrorResponse | Fault | Abort):
                raise ConfigError(
                    f"chaos: {fault!r} is not a Latency, ErrorResponse, Fault or Abort"
                )

    def decide(self) -> Decision:
        """Roll for each fault in order; latencies add up, the first other fault ends it."""
        if not self.enabled:
            return _PROCEED
        delay = 0.0
        outcome: ErrorResponse | Fault | Abort | None = None
        for fault in self.faults:
            if fault.rate < 1.0 and self.rng.random() >= fault.rate:
                continue
            if isinstance(fault, Latency):
                extra = fault.seconds
                if fault.jitter:
                    extra = max(0.0, extra + self.rng.uniform(-fault.jitter, fault.jitter))
                delay += extra
                emit(
                    FaultInjected(
                        policy="chaos",
                        name=self.name,
                        at=self.clock.now(),
                        fault="latency",
                        delay=extra,
                    )
                )
                continue
            outcome = fault
            status = fault.status if isinstance(fault, ErrorResponse) else None
            emit(
                FaultInjected(
                    policy="chaos",
                    name=self.name,
                    at=self.clock.now(),
                    fault=_KIND[type(fault)],
                    status=status,
                )
            )
            break
        if not delay and outcome is None:
            return _PROCEED
        return Decision(delay, outcome)


def _injector(
    faults: Iterable[ChaosFault], enabled: bool, rng: random.Random | None, clock: Clock, name: str
) -> Injector:
    return Injector(tuple(faults), enabled, rng or random.Random(), clock, name)


class _Switchable:
    injector: Injector

    @property
    def enabled(self) -> bool:
        """Whether faults are injected; may be flipped at run time."""
        return self.injector.enabled

    @enabled.setter
    def enabled(self, value: bool) -> None:
        self.injector.enabled = value


# -- server edge -------------------------------------------------------------------------

Scope = MutableMapping[str, Any]
Receive = Callable[[], Any]
Send = Callable[[MutableMapping[str, Any]], Any]
ASGIApp = Callable[[Scope, Receive, Send], Any]


class ChaosMiddleware(_Switchable):
    """Pure ASGI middleware injecting ``faults`` into HTTP requests; off unless ``enabled``.

    ::

        app = ChaosMiddleware(app, Latency(0.2, rate=0.1), ErrorResponse(503, rate=0.05),
                              enabled=os.environ.get("CHAOS") == "1")

    Non-HTTP scopes (lifespan, websockets) pass through. ``enabled`` may be flipped at
    run time (``middleware.enabled = True``).
    """

    def __init__(
        self,
        app: ASGIApp,
        *faults: ChaosFault,
        enabled: bool = False,
        rng: random.Random | None = None,
        clock: Clock = SYSTEM_CLOCK,
        name: str = "middleware",
    ) -> None:
        self.app = app
        self.injector = _injector(faults, enabled, rng, clock, name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.injector.enabled:
            await self.app(scope, receive, send)
            return
        decision = self.injector.decide()
        if decision.delay:
            await self.injector.clock.asleep(decision.delay)
        outcome = decision.outcome
        if outcome is None:
            await self.app(scope, receive, send)
        elif isinstance(outcome, ErrorResponse):
            headers = [
                (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in outcome.header_list()
            ]
            headers.append((b"content-length", str(len(outcome.body)).encode()))
            await send(
                {"type": "http.response.start", "status": outcome.status, "headers": headers}
            )
            await send({"type": "http.response.body", "body": outcome.body})
        elif isinstance(outcome, Fault):
            raise outcome.error() if outcome.error else InjectedFault("chaos: injected fault")
        else:
            # ASGI has no "abort": promise a body, then fail, and the server cuts the
            # connection with the response incomplete.
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-length", b"1024")],
                }
            )
            raise InjectedFault("chaos: injected abort")


# -- client edge -------------------------------------------------------------------------


def _respond(outcome: ErrorResponse | Fault | Abort, request: httpx.Request) -> httpx.Response:
    if isinstance(outcome, ErrorResponse):
        return httpx.Response(
            outcome.status, headers=outcome.header_list(), content=outcome.body, request=request
        )
    if isinstance(outcome, Fault):
        if outcome.error is not None:
            raise outcome.error()
        raise httpx.ConnectError("chaos: injected connection failure", request=request)
    raise httpx.RemoteProtocolError(
        "chaos: server disconnected without sending a complete response", request=request
    )


class AsyncChaosTransport(_Switchable, httpx.AsyncBaseTransport):
    """An httpx async transport injecting ``faults`` before the wrapped ``transport``.

    ::

        client = httpx.AsyncClient(transport=AsyncChaosTransport(
            Fault(rate=0.1), Latency(0.5, rate=0.2), enabled=True, rng=random.Random(7)))
    """

    def __init__(
        self,
        *faults: ChaosFault,
        transport: httpx.AsyncBaseTransport | None = None,
        enabled: bool = False,
        rng: random.Random | None = None,
        clock: Clock = SYSTEM_CLOCK,
        name: str = "transport",
    ) -> None:
        self.transport = transport if transport is not None else httpx.AsyncHTTPTransport()
        self.injector = _injector(faults, enabled, rng, clock, name)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        decision = self.injector.decide()
        if decision.delay:
            await self.injector.clock.asleep(decision.delay)
        if decision.outcome is not None:
            return _respond(decision.outcome, request)
        return await self.transport.handle_async_request(request)

    async def aclose(self) -> None:
        await self.transport.aclose()


class ChaosTransport(_Switchable, httpx.BaseTransport):
    """The sync twin of :class:`AsyncChaosTransport`."""

    def __init__(
        self,
        *faults: ChaosFault,
        transport: httpx.BaseTransport | None = None,
        enabled: bool = False,
        rng: random.Random | None = None,
        clock: Clock = SYSTEM_CLOCK,
        name: str = "transport",
    ) -> None:
        self.transport = transport if transport is not None else httpx.HTTPTransport()
        self.injector = _injector(faults, enabled, rng, clock, name)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        decision = self.injector.decide()
        if decision.delay:
            self.injector.clock.sleep(decision.delay)
        if decision.outcome is not None:
            return _respond(decision.outcome, request)
        return self.transport.handle_request(request)

    def close(self) -> None:
        self.transport.close()
