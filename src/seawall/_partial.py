"""Partial answers: the essential parts of a response, and whatever optional parts make it.

A product page needs the product; it would like recommendations, reviews and the stock
badge. When the recommendation service is slow, the right answer is the page without
recommendations — on time — not a timeout: partial service is better than a total
outage. :func:`partial` runs every part concurrently under the current deadline:

- an **essential** part's failure is the call's failure (the others are cancelled); if
  the deadline passes before the essential parts finish, :class:`~seawall.DeadlineExceeded`;
- an **optional** part (:func:`optional`) that fails, or has not finished within its own
  ``timeout`` or the deadline less the caller's reserve (:func:`seawall.downstream_timeout`),
  yields its declared default and is listed in :attr:`PartialResult.degraded` — which an
  HTTP layer turns into ``X-Degraded: recommendations``.

Optional parts are cut a reserve *before* the deadline so there is still time to build
the answer without them. :func:`partial_sync` is the same over threads; a thread cannot be
interrupted, so a late optional part finishes in the background and its result is
dropped. Each part runs in a copy of the caller's context, so deadlines and priorities
propagate into it.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Generic, TypeVar

from seawall._clock import SYSTEM_CLOCK, Clock
from seawall._deadline import current_deadline, downstream_timeout, remaining
from seawall._degraded import mark_degraded
from seawall._errors import ConfigError, DeadlineExceeded
from seawall._events import Event, emit
from seawall._validate import optional_seconds

__all__ = ["OptionalPart", "PartDegraded", "PartialResult", "optional", "partial", "partial_sync"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class OptionalPart(Generic[T]):
    """A part the answer can do without: its call, its stand-in, and its own time limit."""

    call: Callable[[], Any]
    default: T
    timeout: float | None = None


def optional(
    call: Callable[[], Any], *, default: T, timeout: float | timedelta | None = None
) -> OptionalPart[T]:
    """Mark ``call`` as optional: on failure or lateness the answer uses ``default``.

    ``timeout`` is seconds or a ``timedelta``; ``None`` or ``inf`` leave only the deadline.
    """
    if not callable(call):
        raise ConfigError(f"an optional part takes a zero-argument callable, got {call!r}")
    return OptionalPart(call, default, optional_seconds(timeout, "optional part timeout"))


@dataclass(frozen=True, slots=True, kw_only=True)
class PartDegraded(Event):
    """Optional part ``name`` answered with its default: ``reason`` is "error" or "timeout"."""

    reason: str
    error: BaseException | None = None


@dataclass(frozen=True, slots=True)
class PartialResult(Mapping[str, Any]):
    """Every part's value (or its default), and which parts were degraded.

    Reads like a dict (``result["user"]``; ``parts`` is the plain dict). ``degraded``
    names the optional parts that answered with their default, ``errors`` says why.
    """

    parts: Mapping[str, Any]
    degraded: frozenset[str] = frozenset()
    errors: Mapping[str, BaseException] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Any:
        return self.parts[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.parts)

    def __len__(self) -> int:
        return len(self.parts)

    @property
    def complete(self) -> bool:
        """True when no part was degraded."""
        return not self.degraded

    def degraded_header(self) -> str | None:
        """The ``X-Degraded`` header value (sorted part names), or None when complete."""
        return ", ".join(sorted(self.degraded)) or None


class _Spec:
    __slots__ = ("budget", "call", "default", "essential", "name")

    def __init__(self, name: str, part: Any, optional_budget: float | None) -> None:
        self.name = name
        if isinstance(part, OptionalPart):
            self.essential = False
            self.call: Callable[[], Any] = part.call
            self.default: Any = part.default
            budgets = [b for b in (part.timeout, optional_budget) if b is not None]
            self.budget: float | None = min(budgets) if budgets else None
        elif callable(part):
            self.essential = True
            self.call = part
            self.default = None
            self.budget = None
        else:
            raise ConfigError(
                f"part {name!r} must be a zero-argument callable or seawall.optional(...), "
                f"got {part!r}"
            )


def _specs(parts: Mapping[str, Any]) -> list[_Spec]:
    if not parts:
        raise ConfigError("partial() needs at least one part")
    optional_budget = downstream_timeout()
    return [_Spec(name, part, optional_budget) for name, part in parts.items()]


def _late(name: str, budget: float | None) -> DeadlineExceeded:
    return DeadlineExceeded(f"optional part {name!r} ran out of time", timeout=budget)


def _degrade(
    spec: _Spec, reason: str, error: BaseException, clock: Clock, errors: dict[str, BaseException]
) -> None:
    errors[spec.name] = error
    emit(PartDegraded(policy="partial", name=spec.name, at=clock.now(), reason=reason, error=error))


def _essential_failed(spec: _Spec, error: BaseException) -> BaseException:
    error.add_note(f"raised by essential part {spec.name!r} of seawall.partial()")
    return error


def _deadline_passed(unfinished: list[str]) -> DeadlineExceeded:
    scope = current_deadline()
    message = f"deadline passed before essential parts {', '.join(unfinished)} finished"
    if scope is None:
        return DeadlineExceeded(message)
    return scope.exceeded(message)


async def _cut_after(clock: Clock, seconds: float, task: asyncio.Future[Any]) -> None:
    await clock.asleep(seconds)
    task.cancel()


async def partial(parts: Mapping[str, Any], *, clock: Clock | None = None) -> PartialResult:
    """Run ``parts`` concurrently: essential ones must succeed, optional ones may degrade.

    ``parts`` maps names to zero-argument callables returning awaitables (essential) or
    to :func:`optional` wrappers of them.
    """
    clock = clock or SYSTEM_CLOCK
    specs = _specs(parts)
    essential_left = remaining()
    tasks: dict[asyncio.Future[Any], _Spec] = {}
    helpers: list[asyncio.Future[Any]] = []
    try:
        for spec in specs:
            tasks[asyncio.ensure_future(spec.call())] = spec
        cut: set[asyncio.Future[Any]] = set()
        for task, spec in tasks.items():
            if spec.budget is not None:
                helpers.append(asyncio.ensure_future(_cut_after(clock, spec.budget, task)))
                cut.add(task)
        timer: asyncio.Future[Any] | None = None
        if essential_left is not None and any(s.essential for s in specs):
            timer = asyncio.ensure_future(clock.asleep(max(essential_left, 0.0)))
            helpers.append(timer)
        pending = set(tasks)
        while pending:
            watch = pending if timer is None else pending | {timer}
            done, _ = await asyncio.wait(watch, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                spec_done = tasks.get(task)
                if spec_done is not None and spec_done.essential:
                    if task.cancelled():
                        raise _essential_failed(spec_done, asyncio.CancelledError())
                    error = task.exception()
                    if error is not None:
                        raise _essential_failed(spec_done, error)
            pending -= done
            if timer is not None:
                unfinished = [tasks[t].name for t in pending if tasks[t].essential]
                if timer in done and unfinished:
                    raise _deadline_passed(unfinished)
                if not unfinished:
                    timer.cancel()
                    timer = None
        return _collect(tasks, cut, clock)
    finally:
        leftovers = [t for t in (*tasks, *helpers) if not t.done()]
        for leftover in leftovers:
            leftover.cancel()
        if leftovers:
            await asyncio.wait(leftovers)


def _collect(
    tasks: Mapping[asyncio.Future[Any], _Spec], cut: set[asyncio.Future[Any]], clock: Clock
) -> PartialResult:
    values: dict[str, Any] = {}
    errors: dict[str, BaseException] = {}
    for task, spec in tasks.items():
        if spec.essential:
            values[spec.name] = task.result()
        elif task.cancelled():
            reason = "timeout" if task in cut else "error"
            _degrade(spec, reason, _late(spec.name, spec.budget), clock, errors)
            values[spec.name] = spec.default
        elif (error := task.exception()) is not None:
            _degrade(spec, "error", error, clock, errors)
            values[spec.name] = spec.default
        else:
            values[spec.name] = task.result()
    mark_degraded(errors)  # for the X-Degraded header of the request being served
    return PartialResult(values, frozenset(errors), errors)


def partial_sync(
    parts: Mapping[str, Any], *, clock: Clock | None = None, max_workers: int | None = None
) -> PartialResult:
    """:func:`partial` over threads: ``parts`` map names to plain zero-argument callables."""
    clock = clock or SYSTEM_CLOCK
    specs = _specs(parts)
    essential_left = remaining()
    start = clock.now()
    changed = threading.Event()
    executor = ThreadPoolExecutor(max_workers=max_workers or len(specs))
    try:
        futures: dict[Future[Any], _Spec] = {}
        for spec in specs:
            context = contextvars.copy_context()
            future = executor.submit(context.run, spec.call)
            future.add_done_callback(lambda _: changed.set())
            futures[future] = spec
        cutoffs = {f: start + s.budget for f, s in futures.items() if s.budget is not None}
        essential_until = None if essential_left is None else start + essential_left
        values: dict[str, Any] = {}
        errors: dict[str, BaseException] = {}
        pending = dict(futures)
        while pending:
            changed.clear()
            for future, spec in list(pending.items()):
                if not future.done():
                    continue
                del pending[future]
                error = future.exception()
                if spec.essential and error is not None:
                    raise _essential_failed(spec, error)
                if error is not None:
                    _degrade(spec, "error", error, clock, errors)
                    values[spec.name] = spec.default
                else:
                    values[spec.name] = future.result()
            if not pending:
                break
            now = clock.now()
            for future, spec in list(pending.items()):
                until = cutoffs.get(future)
                if until is not None and now >= until:
                    del pending[future]
                    _degrade(spec, "timeout", _late(spec.name, spec.budget), clock, errors)
                    values[spec.name] = spec.default
            unfinished = [s.name for s in pending.values() if s.essential]
            if essential_until is not None and unfinished and now >= essential_until:
                raise _deadline_passed(unfinished)
            if not pending:
                break
            marks = [cutoffs[f] for f in pending if f in cutoffs]
            if essential_until is not None and unfinished:
                marks.append(essential_until)
            clock.wait(changed, min(marks) - now if marks else None)
        ordered = {spec.name: values[spec.name] for spec in specs}
        mark_degraded(errors)
        return PartialResult(ordered, frozenset(errors), errors)
    finally:
        executor.shutdown(wait=False, cancel_futures=True)
