"""Retry: capped, jittered, budgeted, deadline-aware retries of transient failures.

The decision is one step (:meth:`Retry.decide`): given the error, the attempt number and
the time left, either a delay or a reason to stop. The driver (:mod:`seawall._drive`)
calls, sleeps on the injected clock, loops, and emits what the step recorded.

The rules:

* only transient failures (network errors, timeouts, 5xx/408/429) are retried — never
  :class:`~seawall.Rejected` (the breaker or bulkhead said no on purpose) and never the
  caller's own :class:`~seawall.DeadlineExceeded` (an attempt timeout from a Timeout
  *inside* the Retry is a transient failure and is retried);
* at most ``attempts`` attempts in all, with exponential backoff and jitter;
* no backoff sleep that would end past the deadline; a ``retry_after`` carried by the
  error is honoured when it fits, and ends the retries when it does not;
* a shared :class:`~seawall.RetryBudget` can refuse a retry when the dependency is sick;
  such a failure is then *spent* (:mod:`seawall._pushback`): no layer above retries it,
  and a server edge answers it "do not retry", so only the layer right above a failing
  dependency retries.

When the retries end, the *last real error* is re-raised, with an exception note that
says why it was not retried (``add_note``), so tracebacks stay about the real failure.
Every attempt of one call shares one :func:`~seawall.idempotency_key`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta
from typing import cast

from seawall._clock import SYSTEM_CLOCK, Clock
from seawall._deadline import Deadline
from seawall._errors import ConfigError, DeadlineExceeded, Rejected
from seawall._events import (
    AttemptStarted,
    Event,
    RefusalReason,
    RetryRefused,
    RetryScheduled,
    emit,
    rejection,
)
from seawall._operation import current_operation
from seawall._pushback import spend, spent
from seawall._transient import transient
from seawall._validate import count, optional_seconds
from seawall._validate import name as policy_name
from seawall.policies._backoff import Backoff
from seawall.policies._base import Policy
from seawall.policies._budget import RetryBudget
from seawall.policies._timeout import Scoped

__all__ = ["ErrorFilter", "Retry", "error_filter", "transient"]

ErrorFilter = (
    type[BaseException] | tuple[type[BaseException], ...] | Callable[[BaseException], bool]
)


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


class Retry(Policy, Scoped):
    """Retry transient failures, at most ``attempts`` attempts in all.

    ``timeout`` bounds the whole operation — every attempt and every backoff sleep — as
    one deadline scope opened around the loop (exactly a ``Timeout`` placed outside the
    Retry, at one layer's cost less; :func:`~seawall.standard` uses it that way). It is
    positive seconds or a ``timedelta``; ``None`` or ``inf`` leave only the attempts and
    any enclosing deadline to end the operation.
    """

    __slots__ = (
        "_clock",
        "_events",
        "_on",
        "_rng",
        "attempts",
        "attempts_retry",
        "backoff",
        "budget",
        "calls_budget_refused",
        "calls_deadline_refused",
        "calls_failed_after_retry",
        "calls_not_retryable",
        "calls_success_after_retry",
        "calls_success_first_try",
        "name",
        "timeout",
        "timeouts",
    )
    _kind = "retry"

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
        attempts = count(attempts, "attempts")
        if attempts > 10:
            raise ConfigError(
                f"attempts={attempts} would multiply load {attempts}x on a sick dependency; "
                "retries stay at 3-5 attempts so that an outage is not amplified (use at most 10)"
            )
        self.attempts = attempts
        if backoff is not None and not isinstance(backoff, Backoff):
            raise ConfigError(f"backoff must be a seawall Backoff, got {backoff!r}")
        if budget is not None and not isinstance(budget, RetryBudget):
            raise ConfigError(f"budget must be a seawall RetryBudget, got {budget!r}")
        self.backoff = backoff or Backoff.exponential()
        self._on = error_filter(on)
        self.budget = budget
        # inf is no total bound: the same as None.
        self.timeout = optional_seconds(timeout, "Retry timeout", positive=True)
        self.name = policy_name(name)
        self._clock = clock or SYSTEM_CLOCK
        self._rng = rng or random.Random()
        self._events: list[Event] = []  # recorded decisions, emitted by the driver
        # Counters, as plain fields read without a lock: calls by how they ended, and
        # the attempts beyond each call's first.
        self.calls_success_first_try = 0
        self.calls_success_after_retry = 0
        self.calls_failed_after_retry = 0
        self.calls_not_retryable = 0
        self.calls_budget_refused = 0
        self.calls_deadline_refused = 0
        self.attempts_retry = 0
        self.timeouts = 0

    def _retryable(self, exc: BaseException, outer: Deadline | None) -> bool:
        if isinstance(exc, Rejected):
            return False
        if isinstance(exc, DeadlineExceeded) and (
            exc.scope is None or exc.scope is outer or (outer is not None and outer.expired())
        ):
            return False
        return self._on(exc)

    def decide(
        self, exc: Exception, attempt: int, previous: float | None, outer: Deadline | None
    ) -> float | None:
        """The step after a failed attempt: seconds to wait before the next, or ``None``.

        The decision is recorded as an event for the driver to emit; a refusal also notes
        its reason on ``exc``, which the driver re-raises.
        """
        reason: RefusalReason
        retryable = self._retryable(exc, outer)
        admitted = True
        if retryable and attempt == 1 and self.budget is not None:
            # A call that fails tells the budget once, at its first failure, and the
            # budget's reserve decides then whether this call retries at all: a call
            # that may retry keeps every attempt it was configured with.
            admitted = self.budget.failed()
        if isinstance(exc, Rejected):
            # A policy refused on purpose; say which, in the words an operator searches for.
            reason, why = "rejected", rejection(exc)
        elif not retryable:
            reason, why = "not_retryable", "the error is not transient"
        elif attempt >= self.attempts:
            reason, why = "attempts", f"gave up after {attempt} attempts"
        else:
            pushback = getattr(exc, "retry_pushback", None)
            op = current_operation()
            if isinstance(pushback, float):
                # The server said when to come back (gRPC pushback): that is the delay,
                # shorter or longer than the backoff would have been, and a failure
                # after it backs off from the initial delay again.
                delay, retry_after = pushback, None
                if op is not None:
                    op.backoff_from = attempt
            else:
                since: int = getattr(op, "backoff_from", 0)
                if since and attempt - since == 1:
                    previous = None  # the wait before was the server's, not a backoff
                delay = self.backoff.delay(attempt - since, previous, self._rng)
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
            elif not admitted:
                reason = "budget"
                why = "the retry budget's failure reserve is spent: the dependency keeps failing"
            elif self.budget is not None and not self.budget.try_withdraw():
                reason, why = "budget", "the retry budget is spent"
            else:
                self._events.append(
                    RetryScheduled(
                        policy="retry",
                        name=self.name,
                        at=self._clock.now(),
                        attempt=attempt,
                        delay=delay,
                        error=exc,
                    )
                )
                self.attempts_retry += 1
                return delay
        self._refuse(exc, attempt, reason, why)
        return None

    def _refuse(self, exc: Exception, attempt: int, reason: RefusalReason, why: str) -> None:
        if (reason == "budget" and self.budget is not None and self.budget.failing()) or (
            reason == "not_retryable" and spent(exc)
        ):
            # The budget refused a retry of a dependency failing broadly, or the answer
            # said not to retry: no layer above retries this failure either (see
            # seawall._pushback).
            spend(exc)
        if reason == "not_retryable" or (reason == "rejected" and attempt == 1):
            # A policy's refusal (open breaker, full bulkhead) is never retried: the
            # call's outcome is the same as any other error that is not transient.
            self.calls_not_retryable += 1
        elif reason == "attempts" or reason == "rejected":
            self.calls_failed_after_retry += 1
        elif reason == "budget":
            self.calls_budget_refused += 1
        else:  # the deadline, or a retry-after beyond it
            self.calls_deadline_refused += 1
        exc.add_note(f"seawall: {self.name}: not retried after attempt {attempt}: {why}")
        self._events.append(
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

    @property
    def attempts_original(self) -> int:
        """First attempts of calls that ended: every call counted by outcome."""
        return (
            self.calls_success_first_try
            + self.calls_success_after_retry
            + self.calls_failed_after_retry
            + self.calls_not_retryable
            + self.calls_budget_refused
            + self.calls_deadline_refused
        )

    def _started(self, attempt: int) -> None:
        now = self._clock.now()
        emit(AttemptStarted(policy="retry", name=self.name, at=now, attempt=attempt))

    # -- what the driver asks of a retry holding the operation's deadline -------------

    def _layout(self) -> tuple[str, ...]:
        return ("retry",) if self.timeout is None else ("total", "retry")

    @property
    def _total_seconds(self) -> float | None:
        return self.timeout

    def __repr__(self) -> str:
        return (
            f"Retry(attempts={self.attempts}, backoff={self.backoff!r}, "
            f"timeout={self.timeout!r}, name={self.name!r})"
        )
