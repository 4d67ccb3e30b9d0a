"""Hedged requests: when an answer is late, ask again and take whichever answers first.

A dependency that answers in 10 ms almost always but in a second now and then (a GC
pause, a cold cache, a noisy neighbour) gives every caller that fans out to it a slow
tail. Dean and Barroso ("The Tail at Scale", CACM 2013) send a second copy of a request
that has not answered within about the 95th percentile of latency, use the first answer
and cancel the other: the slow tail now needs two slow answers in a row, for a few
percent more requests. gRPC (gRFC A6 ``hedgingPolicy``), Envoy and Polly v8 ship it.

The rules:

* A hedge starts ``delay`` after the previous attempt when no good answer has come;
  ``max_hedges`` caps the copies per call. ``delay`` is seconds, or a percentile of the
  latency observed for first attempts (``"p95"``), kept in a bounded ring
  (:class:`~seawall.policies._latency.LatencyRing`); until ``min_samples`` are seen the
  ``initial_delay`` is used.
* The first good answer wins; the other attempts are cancelled (async) or abandoned
  (sync). An error the ``on`` filter calls transient is not an answer: the next hedge
  starts at once (as gRPC does on a non-fatal status) and the others keep running; any
  other error is the answer and ends the call.
* Never past the deadline: no hedge starts once the enclosing deadline has passed, and
  every attempt runs under that same deadline.
* A shared :class:`~seawall.RetryBudget` caps hedges to a fraction of calls, so a slow,
  overloaded dependency is not sent twice the load exactly when it is slowest; or gRPC's
  throttling tokens (:class:`~seawall.TokenThrottle`) stop hedges while failures mount.
* Every attempt of a call is one logical operation: one :func:`~seawall.idempotency_key`
  for all of them; :func:`~seawall.current_attempt` numbers them (1 is the original).
  Hedge only what is idempotent or carries that key.

The core (:meth:`Hedge._plan`) decides: hedge now, wait so long, or hedge no more. The
async driver waits only through the clock (``clock.wait_future``), so the same code runs
on a real loop, on :class:`~seawall.testing.FakeClock` and in :mod:`seawall.sim`. The sync
driver runs attempts on a small bounded thread pool and waits with ``clock.wait``.
"""

from __future__ import annotations

import asyncio
import contextvars
import random
import re
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, Literal, TypeVar, cast

from seawall._clock import SYSTEM_CLOCK, Clock
from seawall._deadline import remaining
from seawall._errors import ConfigError
from seawall._operation import Operation, current_operation
from seawall._operation import _current as _operation
from seawall._transient import transient
from seawall._validate import count, real, seconds
from seawall._validate import name as policy_name
from seawall.policies._base import Args, Kwargs, Policy
from seawall.policies._budget import RetryBudget
from seawall.policies._latency import LatencyRing
from seawall.policies._retry import ErrorFilter, error_filter
from seawall.policies._tokens import TokenThrottle

__all__ = ["Hedge", "parse_delay"]

T = TypeVar("T")

_PERCENTILE = re.compile(r"p(\d{1,2}(?:\.\d{1,3})?)")
MAX_HEDGES = 5
"""Each hedge adds up to one request per call: more than a few multiplies load for
nothing (the tail is already two slow answers in a row at one hedge)."""
MAX_WORKERS = 64


def parse_delay(value: object) -> float | str:
    """A hedge delay: seconds (or a timedelta), or a percentile such as ``"p95"``.

    Returns float seconds, or the percentile as text (validated: 0 < q < 100).
    """
    if isinstance(value, str):
        match = _PERCENTILE.fullmatch(value.strip())
        if match is None or not 0.0 < float(match.group(1)) < 100.0:
            raise ConfigError(
                f"delay must be seconds or a percentile of observed latency such as 'p95' "
                f"(p1..p99.999), got {value!r}"
            )
        return value.strip()
    return seconds(value, "hedge delay", infinite=False)


class Hedge(Policy):
    """Start another attempt when the first has not answered after ``delay``.

    ``delay``: seconds, a ``timedelta``, or a percentile of the first attempts' observed
    latency (``"p95"``, the paper's choice); ``0`` sends every copy at once. With a
    percentile, ``initial_delay`` (default 0.1 s) is used until ``min_samples`` (100)
    latencies are known, and the last ``window`` (1,000) are kept. ``max_hedges`` (1) is
    the number of extra attempts per call, at most 5. ``budget``: a shared
    :class:`~seawall.RetryBudget` (``False`` for none; by default 10 % of calls plus
    10/s over 10 s), or gRPC's throttling tokens, :class:`~seawall.TokenThrottle`.
    ``on``: the errors that are not an answer (:func:`seawall.transient`).
    ``jitter`` (0) spreads each hedge's delay by up to ± that fraction, drawn from ``rng``,
    so callers stalled by one event do not all hedge at the same instant.
    ``max_workers`` (8) bounds the thread pool of the sync form.
    """

    __slots__ = (
        "_clock",
        "_initial",
        "_lock",
        "_on",
        "_pool",
        "_pool_free",
        "_quantile",
        "_rng",
        "_tokens",
        "answered_original",
        "attempts_hedge",
        "attempts_original",
        "budget",
        "calls",
        "delay",
        "failed_hedged",
        "failed_unhedged",
        "hedges_budget_refused",
        "hedges_deadline_refused",
        "hedges_pool_refused",
        "hedges_won",
        "jitter",
        "latencies",
        "losers_cancelled",
        "max_hedges",
        "max_workers",
        "min_samples",
        "name",
    )

    def __init__(
        self,
        delay: float | timedelta | str = "p95",
        *,
        max_hedges: int = 1,
        budget: RetryBudget | TokenThrottle | Literal[False] | None = None,
        on: ErrorFilter = transient,
        initial_delay: float | timedelta = 0.1,
        min_samples: int = 100,
        window: int = 1000,
        jitter: float = 0.0,
        max_workers: int = 8,
        name: str = "hedge",
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.delay = parse_delay(delay)
        self._quantile = float(self.delay[1:]) if isinstance(self.delay, str) else None
        self.max_hedges = count(max_hedges, "max_hedges", minimum=0, maximum=MAX_HEDGES)
        self._initial = seconds(initial_delay, "initial_delay", infinite=False)
        window = count(window, "window (latencies kept)", maximum=100_000)
        self.min_samples = count(min_samples, "min_samples", maximum=window)
        self.jitter = real(jitter, "jitter", low=0.0, high=1.0, high_open=True)
        self.max_workers = count(max_workers, "max_workers", maximum=MAX_WORKERS)
        if not (
            budget is None or budget is False or isinstance(budget, (RetryBudget, TokenThrottle))
        ):
            raise ConfigError(
                f"budget must be a seawall RetryBudget or TokenThrottle, False or None, "
                f"got {budget!r}"
            )
        if rng is not None and not isinstance(rng, random.Random):
            raise ConfigError(f"rng must be a random.Random, got {rng!r}")
        self.name = policy_name(name)
        self._clock = clock or SYSTEM_CLOCK
        self.budget = None if budget is False else budget or RetryBudget(clock=self._clock)
        # Throttling tokens follow attempts' outcomes; a RetryBudget counts calls only.
        self._tokens = self.budget if isinstance(self.budget, TokenThrottle) else None
        self._on = error_filter(on)
        self._rng = rng or random.Random()
        self.latencies = LatencyRing(window)
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._pool_free = threading.Semaphore(self.max_workers)
        # Counters, plain fields read without a lock (docs/time.md lists them).
        self.calls = 0
        self.attempts_original = 0
        self.attempts_hedge = 0
        self.hedges_won = 0
        self.hedges_budget_refused = 0
        self.hedges_deadline_refused = 0
        self.hedges_pool_refused = 0
        self.losers_cancelled = 0
        # How each call ended: answered by the original or by a hedge (hedges_won), or
        # failed with or without a hedge launched. A caller's cancellation is none of them.
        self.answered_original = 0
        self.failed_hedged = 0
        self.failed_unhedged = 0

    def __repr__(self) -> str:
        return f"Hedge({self.delay!r}, max_hedges={self.max_hedges}, name={self.name!r})"

    # the core ------------------------------------------------------------------------

    def current_delay(self) -> float:
        """Seconds a call waits before its next hedge, as things stand now."""
        if self._quantile is None:
            return cast(float, self.delay)
        if self.latencies.count < self.min_samples:
            return self._initial
        return self.latencies.percentile(self._quantile)

    def _begin(self) -> Operation:
        """Count a call; the operation every attempt of it shares (one idempotency key)."""
        self.calls += 1
        self.attempts_original += 1
        if self.budget is not None:
            self.budget.deposit()
        outer = current_operation()
        return Operation(outer.key if outer is not None else None)

    def _plan(self, launched: int, last: float, now: float, failed: bool) -> float | None:
        """The next step: 0.0 to hedge now, seconds to wait first, ``None``: hedge no more.

        ``launched`` attempts so far, the latest at ``last``; ``failed``: one has just
        ended with an error that is not an answer (then the next hedge goes at once).
        """
        if launched > self.max_hedges:
            return None
        if not failed:
            delay = self.current_delay()
            if self.jitter:
                delay *= 1.0 + self.jitter * (2.0 * self._rng.random() - 1.0)
            wait = last + delay - now
            if wait > 0.0:
                return wait
        left = remaining()
        if left is not None and left <= 0.0:
            self.hedges_deadline_refused += 1
            return None
        if self.budget is not None and not self.budget.try_withdraw():
            self.hedges_budget_refused += 1
            return None
        self.attempts_hedge += 1
        return 0.0

    def _observe(self, started: float, now: float) -> None:
        """The original attempt ended (answered, failed, or lost to a hedge) at ``now``.

        A lost original is recorded at the moment it lost: its latency is at least that,
        which is above the hedge delay either way, so percentiles near the delay stay
        right.
        """
        if self._quantile is not None:
            self.latencies.record(now - started)

    def _failed(self, launched: int) -> None:
        """The call ended with an error after ``launched`` attempts."""
        if launched > 1:
            self.failed_hedged += 1
        else:
            self.failed_unhedged += 1

    def _outcome(self, index: int, error: BaseException | None) -> None:
        """Attempt ``index`` answered (``error`` None) or failed with a transient error."""
        if error is None:
            if index > 0:
                self.hedges_won += 1
            else:
                self.answered_original += 1
        if self._tokens is not None:
            self._tokens.record(error is None)

    # the async driver ----------------------------------------------------------------

    async def _aguard(self, fn: Callable[..., Awaitable[T]], args: Args, kwargs: Kwargs) -> T:
        clock = self._clock
        loop = asyncio.get_running_loop()
        shared = self._begin()
        started = clock.now()
        wake: list[asyncio.Future[None]] = [loop.create_future()]
        attempts: list[asyncio.Task[T]] = []
        race = _Race(self, started)

        def ended(task: asyncio.Task[T]) -> None:
            if not task.cancelled():
                task.exception()  # retrieved here, so a loser's error is never "unhandled"
            if not wake[0].done():
                wake[0].set_result(None)

        async def attempt() -> T:
            # Called inside the attempt's task: the function sees that attempt's context.
            return await fn(*args, **kwargs)

        def launch() -> None:
            op = Operation(shared.key)
            op.attempt = len(attempts) + 1
            context = contextvars.copy_context()
            context.run(_operation.set, op)
            task = loop.create_task(attempt(), context=context)
            task.add_done_callback(ended)
            attempts.append(task)

        launch()
        last = started
        seen = race.seen
        try:
            while True:
                # One turn of the loop lets a new attempt run to its first wait: one that
                # answers or fails at once is seen before any timer is armed.
                await asyncio.sleep(0)
                for index, task in enumerate(attempts):
                    if not task.done() or index in seen:
                        continue
                    if task.cancelled():
                        seen.add(index)
                        continue
                    exc = task.exception()
                    if race.settle(index, exc is None, exc):
                        return task.result()
                running = sum(not task.done() for task in attempts)
                now = clock.now()
                step = race.plan(len(attempts), last, now)
                if step == 0.0:
                    launch()
                    last = now
                    continue
                if running == 0:
                    raise race.error or asyncio.CancelledError()
                wake[0] = loop.create_future()
                if any(task.done() and i not in seen for i, task in enumerate(attempts)):
                    continue  # ended after the scan above: look again before waiting
                await clock.wait_future(wake[0], step)
        except Exception:
            self._failed(len(attempts))
            raise
        finally:
            race.close()
            for task in attempts:
                if not task.done():
                    task.cancel()
                    self.losers_cancelled += 1

    # the sync driver -----------------------------------------------------------------

    def _guard(self, fn: Callable[..., T], args: Args, kwargs: Kwargs) -> T:
        clock = self._clock
        shared = self._begin()
        started = clock.now()
        wake = threading.Event()
        outcomes: list[tuple[bool, Any] | None] = []
        lock = threading.Lock()

        if not self._pool_free.acquire(blocking=False):
            # No worker free: run the call here, unhedged, rather than queue behind others.
            self.hedges_pool_refused += 1
            token = _operation.set(shared)
            try:
                value = fn(*args, **kwargs)
            except Exception:
                self._failed(1)
                raise
            else:
                self.answered_original += 1
                return value
            finally:
                _operation.reset(token)
                self._observe(started, clock.now())

        def work(index: int, op: Operation) -> None:
            try:
                try:
                    _operation.set(op)
                    outcome: tuple[bool, Any] = (True, fn(*args, **kwargs))
                except BaseException as exc:  # handed to the caller's thread
                    outcome = (False, exc)
                with lock:
                    outcomes[index] = outcome
                wake.set()
            finally:
                self._pool_free.release()

        def launch() -> None:
            op = Operation(shared.key)
            with lock:
                op.attempt = len(outcomes) + 1
                outcomes.append(None)
            context = contextvars.copy_context()
            self._executor().submit(context.run, work, op.attempt - 1, op)

        launch()
        last = started
        race = _Race(self, started)
        try:
            while True:
                wake.clear()
                with lock:
                    ready = [(i, o) for i, o in enumerate(outcomes) if o is not None]
                    launched = len(outcomes)
                for index, (ok, value) in ready:
                    if race.settle(index, ok, None if ok else value):
                        return cast(T, value)
                now = clock.now()
                step = race.plan(launched, last, now)
                if step == 0.0:
                    if self._pool_free.acquire(blocking=False):
                        launch()
                        last = now
                        continue
                    self.attempts_hedge -= 1
                    self.hedges_pool_refused += 1
                    step = None
                if len(ready) == launched and race.error is not None:
                    raise race.error
                clock.wait(wake, step)
        except Exception:
            with lock:
                launched = len(outcomes)
            self._failed(launched)
            raise
        finally:
            race.close()
            with lock:
                self.losers_cancelled += sum(o is None for o in outcomes)

    def _executor(self) -> ThreadPoolExecutor:
        pool = self._pool
        if pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(
                        self.max_workers, thread_name_prefix=f"seawall-hedge-{self.name}"
                    )
                pool = self._pool
        return pool

    def close(self) -> None:
        """Stop the sync form's worker threads once running attempts end."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False)


class _Race:
    """One hedged call's book: which attempts ended, and what their ends mean.

    Both drivers hand every ended attempt to :meth:`settle` and ask :meth:`plan` for the
    next step, so the rules (the original's latency is observed once, the first answer
    wins, a fatal error ends the call, a transient one may start the next hedge at once)
    are written once.
    """

    __slots__ = ("error", "failed", "hedge", "original_open", "seen", "started")

    def __init__(self, hedge: Hedge, started: float) -> None:
        self.hedge = hedge
        self.started = started
        self.original_open = True  # the original attempt has not ended yet
        self.seen: set[int] = set()  # attempts whose end was settled
        self.error: BaseException | None = None  # the last transient failure
        self.failed = False  # a transient failure since the last plan

    def settle(self, index: int, ok: bool, error: BaseException | None) -> bool:
        """Attempt ``index`` ended: True if it answered; a fatal ``error`` is raised."""
        if index in self.seen:
            return False
        hedge = self.hedge
        if index == 0 and self.original_open:
            self.original_open = False
            hedge._observe(self.started, hedge._clock.now())
        if ok:
            hedge._outcome(index, None)
            return True
        assert error is not None
        if not isinstance(error, Exception) or not hedge._on(error):
            raise error
        self.seen.add(index)
        hedge._outcome(index, error)
        self.error = error
        self.failed = True
        return False

    def plan(self, launched: int, last: float, now: float) -> float | None:
        """The next step: 0.0 to hedge now, seconds to wait, or None to wait for an end."""
        step = self.hedge._plan(launched, last, now, self.failed)
        self.failed = False
        return step

    def close(self) -> None:
        """The call ended: an original still running is observed at its abandonment."""
        if self.original_open:
            self.hedge._observe(self.started, self.hedge._clock.now())
