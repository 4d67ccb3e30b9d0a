"""Composition: pipelines of policies, and the ``standard()`` preset.

The standard order (docs/design.md), outermost first, and why each layer sits where it does::

    Fallback          catches everything below, even an open breaker or a spent deadline
    Timeout(total)    one budget for the whole operation, retries and backoff included —
                      opened by the Retry itself (``Retry(timeout=...)``): same scope,
                      one layer less on every call
    Retry             each attempt re-enters the breaker, so an opening breaker stops retries
    CircuitBreaker    sees every attempt's outcome; a bulkhead rejection is not a failure
    Bulkhead          bounds concurrent attempts per dependency
    Timeout(attempt)  bounds one attempt; retried when it fires (the total still holds)
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Literal, TypeVar

from seawall._clock import Clock
from seawall._deadline import seconds_of
from seawall._errors import ConfigError
from seawall.policies._backoff import Backoff
from seawall.policies._base import Policy
from seawall.policies._breaker import CircuitBreaker
from seawall.policies._budget import RetryBudget
from seawall.policies._bulkhead import Bulkhead
from seawall.policies._fallback import Fallback
from seawall.policies._retry import ErrorFilter, Retry, transient
from seawall.policies._timeout import Timeout

__all__ = ["Pipeline", "StandardPipeline", "standard"]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


class Pipeline(Policy):
    """Policies composed outermost first: ``Pipeline(a, b, c)`` runs ``a(b(c(fn)))``.

    Nested pipelines are flattened. The driver compiles the whole stack into one loop
    (:mod:`seawall._drive`): the decorator form compiles once, ``call``/``acall`` per call,
    so prefer decorating functions on hot paths.
    """

    __slots__ = ("policies",)

    def __init__(self, *policies: Policy) -> None:
        flat: list[Policy] = []
        for policy in policies:
            if isinstance(policy, Pipeline):
                flat.extend(policy.policies)
            elif isinstance(policy, Policy):
                flat.append(policy)
            else:
                raise TypeError(f"Pipeline takes seawall policies, got {policy!r}")
        self.policies: tuple[Policy, ...] = tuple(flat)

    def _stack(self) -> tuple[Policy, ...]:
        return self.policies

    def __iter__(self) -> Any:
        return iter(self.policies)

    def __repr__(self) -> str:
        return f"Pipeline({', '.join(map(repr, self.policies))})"


# Practical defaults per kind of call. The 1 s/2 s/4 s backoff cannot fit inside a 1 s RPC
# budget, so RPCs back off from 100 ms instead.
_KINDS: dict[str, dict[str, float]] = {
    "http": {"timeout": 5.0, "total": 10.0, "backoff": 1.0},
    "rpc": {"timeout": 1.0, "total": 2.0, "backoff": 0.1},
}


class StandardPipeline(Pipeline):
    """The pipeline :func:`standard` builds, with its parts reachable by name."""

    __slots__ = ("attempt_timeout", "breaker", "bulkhead", "fallback", "retry")

    def __init__(
        self,
        *,
        fallback: Fallback | None,
        retry: Retry,
        breaker: CircuitBreaker,
        bulkhead: Bulkhead,
        attempt_timeout: Timeout,
    ) -> None:
        layers: list[Policy] = [] if fallback is None else [fallback]
        layers += [retry, breaker, bulkhead, attempt_timeout]
        super().__init__(*layers)
        self.fallback = fallback
        self.retry = retry
        self.breaker = breaker
        self.bulkhead = bulkhead
        self.attempt_timeout = attempt_timeout

    @property
    def total_timeout(self) -> float | None:
        """Seconds the whole operation may take: the Retry's ``timeout``."""
        return self.retry.timeout


def standard(
    name: str,
    kind: Literal["http", "rpc"] = "http",
    *,
    timeout: float | timedelta | None = None,
    total_timeout: float | timedelta | None = None,
    attempts: int = 3,
    backoff: Backoff | None = None,
    retry_on: ErrorFilter = transient,
    retry_budget: RetryBudget | Literal[False] | None = None,
    failure_rate: float = 0.5,
    window: float | timedelta = 30.0,
    min_calls: int = 20,
    cooldown: float | timedelta = 30.0,
    half_open_calls: int = 3,
    slow_call_duration: float | timedelta | None = None,
    max_concurrent: int = 64,
    max_queue: int = 64,
    max_wait: float | timedelta | None = None,
    fallback: Fallback | None = None,
    clock: Clock | None = None,
    rng: random.Random | None = None,
) -> StandardPipeline:
    """Practical defaults for one dependency, correctly ordered.

    ``kind="http"``: 5 s per attempt, 10 s in all; ``kind="rpc"``: 1 s per attempt, 2 s in
    all. Both: 3 attempts with exponential backoff and ±20 % jitter, a retry budget of
    10 % plus 10/s, a breaker tripping at 50 % failures over 30 s once 20 calls were seen,
    open for 30 s, and a bulkhead of 64 concurrent calls with 64 queued. Any enclosing
    deadline shortens every timeout. Each argument overrides one default.

    ``timeout`` is per attempt and cannot exceed ``total_timeout`` (a ``ConfigError``
    says so); given only ``total_timeout``, the attempt timeout shrinks to fit it.
    ``inf`` is no bound: ``total_timeout=inf`` leaves only the attempts and any enclosing
    deadline to end the operation.
    """
    if not isinstance(kind, str) or kind not in _KINDS:
        raise ConfigError(f"kind must be 'http' or 'rpc', got {kind!r}")
    defaults = _KINDS[kind]
    total_seconds = (
        defaults["total"]
        if total_timeout is None
        else seconds_of(total_timeout, "total_timeout", positive=True)
    )
    if timeout is None:
        attempt_seconds = min(defaults["timeout"], total_seconds)
    else:
        attempt_seconds = seconds_of(timeout, "timeout", positive=True)
        if attempt_seconds > total_seconds:
            raise ConfigError(
                f"timeout ({attempt_seconds:g} s per attempt) cannot exceed total_timeout "
                f"({total_seconds:g} s for all attempts): raise total_timeout or lower timeout"
            )
    if not (retry_budget is None or retry_budget is False or isinstance(retry_budget, RetryBudget)):
        raise ConfigError(
            f"retry_budget must be a RetryBudget, False or None, got {retry_budget!r}"
        )
    if fallback is not None and not isinstance(fallback, Fallback):
        raise ConfigError(f"fallback must be a seawall Fallback, got {fallback!r}")
    budget = None if retry_budget is False else retry_budget or RetryBudget(clock=clock)
    return StandardPipeline(
        fallback=fallback,
        retry=Retry(
            attempts,
            backoff=backoff or Backoff.exponential(initial=defaults["backoff"]),
            on=retry_on,
            budget=budget,
            timeout=total_seconds,
            name=name,
            clock=clock,
            rng=rng,
        ),
        breaker=CircuitBreaker(
            name,
            failure_rate=failure_rate,
            window=window,
            min_calls=min_calls,
            cooldown=cooldown,
            half_open_calls=half_open_calls,
            slow_call_duration=slow_call_duration,
            clock=clock,
        ),
        bulkhead=Bulkhead(
            name, max_concurrent=max_concurrent, max_queue=max_queue, max_wait=max_wait, clock=clock
        ),
        attempt_timeout=Timeout(attempt_seconds, name=f"{name}.attempt", clock=clock),
    )
