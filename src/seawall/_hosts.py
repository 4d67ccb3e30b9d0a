"""How a client's options map onto :func:`~seawall.standard`: one host's policies.

Each host a client talks to gets ``standard(host, kind="http")``'s retry (with its own
retry budget and total timeout), circuit breaker and bulkhead, so the client has exactly
``standard()``'s defaults and validation, and each client option overrides one of its
arguments:

=================== ==================================================================
client option       ``standard()`` argument
=================== ==================================================================
``timeout``         ``timeout``: the cap per attempt (5 s), at most ``total_timeout``;
                    ``inf`` for none (with ``total_timeout=inf``)
``total_timeout``   ``total_timeout``: attempts and backoff together (10 s); ``inf``
                    for none; more than the 50 ms reserve
``attempts``        ``attempts`` (3)
``backoff``         ``backoff`` (exponential from 1 s, ×2, ±20 %)
``retry_budget``    a ratio: ``retry_budget=RetryBudget(ratio=...)`` per host (0.1,
                    plus 10 retries/s); ``False`` for none
``breaker``         a dict: ``failure_rate``, ``window``, ``min_calls``, ``cooldown``,
                    ``half_open_calls``, ``slow_call_duration`` go to ``standard()``;
                    any other CircuitBreaker argument (``window_type``,
                    ``slow_call_rate``, ``record``, ``ignore``) builds the host's
                    breaker as ``CircuitBreaker(host, **breaker)``
``max_concurrent``  ``max_concurrent`` (64)
``max_queue``       ``max_queue`` (64)
``clock``, ``rng``  ``clock``, ``rng``
=================== ==================================================================

``retry_on`` is always :func:`seawall.transient`; the transport turns a 5xx/408/429
answer into an error carrying its status first. ``standard()``'s attempt ``Timeout``
layer is not used: the attempt cap is applied as httpx's own timeouts (see the client).

The options are checked once, when the client is made, by building one host's policies:
the policies validate their own arguments, and an error names the client option it came
from.
"""

from __future__ import annotations

import inspect
import math
import random
from datetime import timedelta
from typing import Any, Literal

from seawall._clock import Clock
from seawall._deadline import MIN_RESERVE, seconds_of
from seawall._errors import ConfigError
from seawall._pipeline import StandardPipeline, standard
from seawall._transient import transient
from seawall.policies._backoff import Backoff
from seawall.policies._breaker import CircuitBreaker
from seawall.policies._budget import RetryBudget
from seawall.policies._bulkhead import Bulkhead
from seawall.policies._retry import Retry

__all__ = ["BREAKER_OPTIONS", "HostPolicies"]

# The breaker arguments standard() takes itself.
_STANDARD_BREAKER = frozenset(
    {"failure_rate", "window", "min_calls", "cooldown", "half_open_calls", "slow_call_duration"}
)
BREAKER_OPTIONS = tuple(
    sorted(
        p.name
        for p in inspect.signature(CircuitBreaker).parameters.values()
        if p.kind is p.KEYWORD_ONLY and p.name != "clock"
    )
)


def _seconds(value: float | timedelta | None, option: str) -> float | None:
    """Seconds for a client timeout: ``inf`` is no bound; zero would fail every request."""
    return None if value is None else seconds_of(value, option, positive=True)


def _breaker_options(breaker: object) -> dict[str, Any]:
    if breaker is None:
        return {}
    if not isinstance(breaker, dict):
        raise ConfigError(f"breaker must be a dict of CircuitBreaker options, got {breaker!r}")
    unknown = sorted(str(key) for key in breaker if key not in BREAKER_OPTIONS)
    if unknown:
        raise ConfigError(
            f"breaker takes {', '.join(BREAKER_OPTIONS)}; unknown: {', '.join(unknown)}"
        )
    return dict(breaker)


class HostPolicies:
    """The recipe for one host's retry, breaker and bulkhead, from ``standard()``."""

    __slots__ = ("_breaker", "_clock", "_given", "_rng", "_standard", "timeout")

    def __init__(
        self,
        *,
        timeout: float | timedelta | None = None,
        total_timeout: float | timedelta | None = None,
        attempts: int | None = None,
        backoff: Backoff | None = None,
        retry_budget: float | Literal[False] | None = None,
        breaker: dict[str, Any] | None = None,
        max_concurrent: int | None = None,
        max_queue: int | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if backoff is not None and not isinstance(backoff, Backoff):
            raise ConfigError(f"backoff must be a seawall.Backoff, got {backoff!r}")
        self._clock = clock
        self._rng = rng
        self._breaker = _breaker_options(breaker)
        total = _seconds(total_timeout, "total_timeout")
        if total is not None and total <= MIN_RESERVE:
            raise ConfigError(
                f"total_timeout={total_timeout!r} leaves no time for a request after the "
                f"{MIN_RESERVE * 1000:.0f} ms every caller keeps in reserve"
            )
        # What the caller gave, by client option; None means standard()'s default.
        given: dict[str, Any] = {
            "timeout": _seconds(timeout, "timeout"),
            "total_timeout": total,
            "attempts": attempts,
            "backoff": backoff,
            "retry_budget": retry_budget,
            "breaker": self._breaker or None,
            "max_concurrent": max_concurrent,
            "max_queue": max_queue,
        }
        self._given = {k: v for k, v in given.items() if v is not None}
        self._standard = _standard_arguments(self._given)
        # An infinite cap is no cap: each attempt gets what the total leaves. standard()
        # refuses a cap above the total, so it keeps its own and the edge ignores it.
        uncapped = self._standard.get("timeout") == math.inf and total != math.inf
        if uncapped:
            del self._standard["timeout"]
        try:
            prototype = self._standard_pipeline("client", self._standard)
            self._own_breaker("client", self._standard)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{self._culprit()}: {exc}") from exc
        # The cap per attempt.
        self.timeout: float = math.inf if uncapped else prototype.attempt_timeout.seconds

    def _standard_pipeline(self, host: str, arguments: dict[str, Any]) -> StandardPipeline:
        options = {k: v for k, v in arguments.items() if k not in ("retry_budget", "breaker")}
        ratio = arguments.get("retry_budget")
        if ratio is not None and ratio is not False:  # a budget of its own per host
            options["retry_budget"] = RetryBudget(ratio=ratio, clock=self._clock)
        elif ratio is False:
            options["retry_budget"] = False
        policies = standard(
            host, "http", retry_on=transient, clock=self._clock, rng=self._rng, **options
        )
        return policies

    def _own_breaker(self, host: str, arguments: dict[str, Any]) -> CircuitBreaker | None:
        own = arguments.get("breaker")
        return CircuitBreaker(host, clock=self._clock, **own) if own else None

    def _culprit(self) -> str:
        """The client option whose value the policies refused, to name it in the error."""
        for option, value in self._given.items():
            arguments = _standard_arguments({option: value})
            try:
                self._standard_pipeline("client", arguments)
                self._own_breaker("client", arguments)
            except (TypeError, ValueError):
                return f"{option}={value!r}"
        return "client options"

    def build(self, host: str) -> tuple[Retry, CircuitBreaker, Bulkhead]:
        """``host``'s own retry (with its own budget), breaker and bulkhead."""
        policies = self._standard_pipeline(host, self._standard)
        breaker = self._own_breaker(host, self._standard) or policies.breaker
        return policies.retry, breaker, policies.bulkhead


def _standard_arguments(given: dict[str, Any]) -> dict[str, Any]:
    """``standard()`` keyword arguments for the client options ``given``.

    A ``breaker`` dict with arguments ``standard()`` does not take stays whole under
    ``"breaker"``, for a CircuitBreaker of its own.
    """
    arguments = {k: v for k, v in given.items() if k != "breaker"}
    breaker = given.get("breaker") or {}
    if _STANDARD_BREAKER.issuperset(breaker):
        arguments.update(breaker)
    else:
        arguments["breaker"] = breaker
    return arguments
