"""Retry: capped, jittered, budgeted, deadline-aware retries of transient failures.

The decision is one pure step (:meth:`Retry._decide`): given the error, the attempt
number and the time left, either a delay or a reason to stop. The sync and async shells
only call, sleep on the injected clock, and loop. The rules, from the seed:

* only transient failures (network errors, timeouts, 5xx/408/429) are retried — never
  :class:`~seawall.Rejected` (the breaker or bulkhead said no on purpose) and never the
  caller's own :class:`~seawall.DeadlineExceeded` (an attempt timeout from a Timeout
  *inside* the Retry is a transient failure and is retried);
* at most ``attempts`` attempts in all, with exponential backoff and jitter;
* no backoff sleep that would end past the deadline; a ``retry_after`` carried by the
  error is honoured when it fits, and ends the retries when it does not;
* a shared :class:`~seawall.RetryBudget` can refuse a retry when the dependency is sick.

When the retries end, the *last real error* is re-raised, with an exception note that
says why it was not retried (``add_note``), so tracebacks stay about the real failure.
Every attempt of one call shares one :func:`~seawall.idempotency_key`.
"""

from __future__ import annotations

import asyncio
import random
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar, cast

from seawall._alarm import arm
from seawall._clock import SYSTEM_CLOCK, Clock
from seawall._deadline import Deadline, _current, current_deadline, seconds_of
from seawall._errors import ConfigError, DeadlineExceeded, Rejected
from seawall._events import (
    AttemptStarted,
    RefusalReason,
    RetryRefused,
    RetryScheduled,
    attempt_events_enabled,
    emit,
)
from seawall._operation import Operation
from seawall._operation import _current as _operation
from seawall.policies._backoff import Backoff
from seawall.policies._base import Args, Kwargs, Policy
from seawall.policies._budget import RetryBudget
from seawall.policies._timeout import enter_scope, expired, own_timeout

__all__ = ["ErrorFilter", "Retry", "error_filter", "transient"]

T = TypeVar("T")

ErrorFilter = (
    type[BaseException] | tuple[type[BaseException], ...] | Callable[[BaseException], bool]
)

_TRANSIENT_STATUS = frozenset({408, 429})


def _status_of(exc: BaseException) -> int | None:
    for attr in ("status_code", "status"):
        status = getattr(exc, attr, None)
        if isinstance(status, int) and not isinstance(status, bool):
            return status
    response = getattr(exc, "response", None)  # httpx.HTTPStatusError, requests.HTTPError
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def transient(exc: BaseException) -> bool:
    """Whether ``exc`` is worth retrying: network errors, timeouts, 5xx, 408 and 429.

    Status errors are recognised by a ``status_code`` or ``status`` attribute (or a
    ``response.status_code``), so errors from any HTTP library qualify. 4xx other than
    408/429 mean "you sent something invalid": retrying changes nothing.
    """
    if isinstance(exc, Rejected):
        return False
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    status = _status_of(exc)
    if status is not None:
        return status >= 500 or status in _TRANSIENT_STATUS
    httpx = sys.modules.get("httpx")
    return httpx is not None and isinstance(exc, httpx.TransportError)


def error_filter(on: ErrorFilter) -> Callable[[BaseException], bool]:
    """Turn an exception class, a tuple of classes or a predicate into a predicate."""
    if isinstance(on, type) and issubclass(on, BaseException):
        cls = on
        return lambda exc: isinstance(exc, cls)
    if isinstance(on, tuple):
        classes = on
        if not all(isinstance(c, type) and issubclass(c, BaseException) for c in classes):
            raise ConfigError(f"on= takes exception classes or a predicate, got {on!r}")
        return lambda exc: isinstance(exc, classes)
    if callable(on):
        return cast(Callable[[BaseException], bool], on)
    raise ConfigError(f"on= takes an exception class, a tuple of them or a predicate: {on!r}")


class Retry(Policy):
    """Retry transient failures, at most ``attempts`` attempts in all.

    ``timeout`` bounds the whole operation — every attempt and every backoff sleep — as
    one deadline scope opened around the loop (exactly a ``Timeout`` placed outside the
    Retry, at one layer's cost less; :func:`~seawall.standard` uses it that way).
    """

    __slots__ = ("_clock", "_on", "_rng", "attempts", "backoff", "budget", "name", "timeout")

    def __init__(
        self,
        attempts: int = 3,
        *,
        backoff: Backoff | None = None,
        on: ErrorFilter = transient,
        budget: RetryBudget | None = None,
        timeout: float | timedelta | None = None,
        name: str = "retry",
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if not isinstance(attempts, int) or attempts < 1:
            raise ConfigError(f"attempts must be an integer >= 1, got {attempts!r}")
        if attempts > 10:
            raise ConfigError(
                f"attempts={attempts} would multiply load {attempts}x on a sick dependency; "
                "the seed caps retries at 3-5 attempts (use at most 10)"
            )
        self.attempts = attempts
        self.backoff = backoff or Backoff.exponential()
        self._on = error_filter(on)
        self.budget = budget
        self.timeout = None if timeout is None else seconds_of(timeout, "Retry timeout")
        self.name = name
        self._clock = clock or SYSTEM_CLOCK
        self._rng = rng or random.Random()

    def _retryable(self, exc: BaseException, outer: Deadline | None) -> bool:
        if isinstance(exc, Rejected):
            return False
        if isinstance(exc, DeadlineExceeded) and (
            exc.scope is None or exc.scope is outer or (outer is not None and outer.expired())
        ):
            return False
        return self._on(exc)

    def _decide(
        self, exc: Exception, attempt: int, previous: float | None, outer: Deadline | None
    ) -> float | None:
        """The pure step: seconds to wait before the next attempt, or ``None`` to stop."""
        reason: RefusalReason
        if not self._retryable(exc, outer):
            reason, why = "not_retryable", "the error is not transient"
        elif attempt >= self.attempts:
            reason, why = "attempts", f"gave up after {attempt} attempts"
        else:
            delay = self.backoff.delay(attempt, previous, self._rng)
            retry_after = getattr(exc, "retry_after", None)
            left = None if outer is None else outer.remaining()
            if isinstance(retry_after, (int, float)) and retry_after > delay:
                if left is not None and retry_after >= left:
                    reason = "retry_after"
                    why = (
                        f"retry-after {retry_after:.3f}s is beyond the deadline ({left:.3f}s left)"
                    )
                    self._refuse(exc, attempt, reason, why)
                    return None
                delay = float(retry_after)
            if left is not None and delay >= left:
                reason = "deadline"
                why = f"backoff {delay:.3f}s would end past the deadline ({left:.3f}s left)"
            elif self.budget is not None and not self.budget.try_withdraw():
                reason, why = "budget", "the retry budget is spent"
            else:
                emit(
                    RetryScheduled(
                        policy="retry",
                        name=self.name,
                        at=self._clock.now(),
                        attempt=attempt,
                        delay=delay,
                        error=exc,
                    )
                )
                return delay
        self._refuse(exc, attempt, reason, why)
        return None

    def _refuse(self, exc: Exception, attempt: int, reason: RefusalReason, why: str) -> None:
        exc.add_note(f"seawall: {self.name}: not retried after attempt {attempt}: {why}")
        emit(
            RetryRefused(
                policy="retry",
                name=self.name,
                at=self._clock.now(),
                attempt=attempt,
                reason=reason,
                error=exc,
            )
        )
        return None

    def _started(self, attempt: int) -> None:
        now = self._clock.now()
        emit(AttemptStarted(policy="retry", name=self.name, at=now, attempt=attempt))

    def _guard(self, fn: Callable[..., T], args: Args, kwargs: Kwargs) -> T:
        total = self.timeout
        if total is None:
            outer, scope_token = current_deadline(), None
        else:
            outer, scope_token = enter_scope(total, self._clock, self.name, "retry")
        op = Operation()
        token = _operation.set(op)
        if self.budget is not None:
            self.budget.deposit()
        previous: float | None = None
        try:
            while True:
                if op.attempt > 1 or attempt_events_enabled():
                    self._started(op.attempt)
                try:
                    result = fn(*args, **kwargs)
                    break
                except Exception as exc:
                    delay = self._decide(exc, op.attempt, previous, outer)
                    if delay is None:
                        raise
                self._clock.sleep(delay)
                previous = delay
                op.attempt += 1
        except TimeoutError as exc:
            if scope_token is None or outer is None:
                raise
            mapped = own_timeout(exc, outer, self.name, "retry")
            if mapped is exc:
                raise
            raise mapped from exc
        finally:
            _operation.reset(token)
            if scope_token is not None:
                _current.reset(scope_token)
        if scope_token is not None and outer is not None and self._clock.now() > outer.when:
            raise expired(outer, self.name, "retry")
        return result

    async def _aguard(self, fn: Callable[..., Awaitable[T]], args: Args, kwargs: Kwargs) -> T:
        total = self.timeout
        alarm = None
        if total is None:
            outer, scope_token = current_deadline(), None
        else:
            outer, scope_token = enter_scope(total, self._clock, self.name, "retry")
            alarm = arm(outer.when - self._clock.now())
        op = Operation()
        token = _operation.set(op)
        if self.budget is not None:
            self.budget.deposit()
        previous: float | None = None
        try:
            while True:
                if op.attempt > 1 or attempt_events_enabled():
                    self._started(op.attempt)
                try:
                    result = await fn(*args, **kwargs)
                    break
                except Exception as exc:
                    delay = self._decide(exc, op.attempt, previous, outer)
                    if delay is None:
                        raise
                await self._clock.asleep(delay)
                previous = delay
                op.attempt += 1
        except asyncio.CancelledError as exc:
            fired = alarm is not None and alarm.fired and outer is not None
            if fired and alarm.task.uncancel() == 0:  # type: ignore[union-attr]
                raise expired(outer, self.name, "retry", exc) from None  # type: ignore[arg-type]
            raise
        except TimeoutError as exc:
            if scope_token is None or outer is None:
                raise
            mapped = own_timeout(exc, outer, self.name, "retry")
            if mapped is exc:
                raise
            raise mapped from exc
        finally:
            _operation.reset(token)
            if alarm is not None:
                alarm.disarm()
            if scope_token is not None:
                _current.reset(scope_token)
        if alarm is not None and alarm.fired and outer is not None:
            alarm.task.uncancel()  # the work swallowed our cancellation and returned anyway
            raise expired(outer, self.name, "retry")
        if scope_token is not None and outer is not None and self._clock.now() > outer.when:
            raise expired(outer, self.name, "retry")
        return result

    def __repr__(self) -> str:
        return (
            f"Retry(attempts={self.attempts}, backoff={self.backoff!r}, "
            f"timeout={self.timeout!r}, name={self.name!r})"
        )
