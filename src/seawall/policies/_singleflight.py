"""Request coalescing: concurrent calls with the same key share one execution.

The thundering herd — a hot cache entry expires and ten thousand callers ask
the database for the same row at once — is one question asked ten thousand times. Go's
``singleflight`` answers it once: the first caller of a key (the *leader*) runs the call,
every caller that arrives while it runs waits for and shares its outcome, value or error.

- Threads: the leader runs the call on its own thread; followers park on an event, at
  most until their own deadline (then :class:`~seawall.DeadlineExceeded`), without
  affecting the leader.
- asyncio: the execution runs as its own task and every caller waits for it through the
  clock (never cancelling it), at most until its own deadline, so a cancelled or late
  caller neither cancels the others nor is left registered. When the *last*
  caller is cancelled the execution is cancelled too — nobody wants its result — and a
  new caller of the key waits for it to unwind before starting a fresh one, so two
  executions of one key never overlap.

One :class:`SingleFlight` coalesces one operation: its default key is the call's
arguments only. Use one instance per operation (``@singleflight`` makes one per
decorated function), or pass ``key=`` to say what makes two calls the same.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar, cast, overload

from seawall._clock import SYSTEM_CLOCK, Clock
from seawall._deadline import current_deadline, remaining
from seawall._validate import callable_or_none
from seawall._validate import name as policy_name
from seawall.policies._base import Args, Kwargs, Policy

__all__ = ["SingleFlight", "default_key", "singleflight"]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

KeyFunction = Callable[..., Hashable]


def default_key(*args: Any, **kwargs: Any) -> Hashable:
    """The call's arguments as a key (they must be hashable)."""
    if kwargs:
        return (args, tuple(sorted(kwargs.items())))
    return args


class _Flight(Generic[T]):
    """One sync execution in progress, and what it produced."""

    __slots__ = ("done", "error", "followers", "value")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: T | None = None
        self.error: BaseException | None = None
        self.followers = 0


class _AsyncFlight:
    """One async execution in progress: its task and how many callers await it."""

    __slots__ = ("abandoned", "task", "waiters")

    def __init__(self, task: asyncio.Future[Any]) -> None:
        self.task = task
        self.waiters = 0
        self.abandoned = False


class SingleFlight(Policy):
    """Coalesce concurrent calls with equal keys into one execution.

    ``run(key, fn, *args)`` / ``await arun(key, afn, *args)`` name the key explicitly; as a
    policy (``call``, ``acall``, decorator, Pipeline) the key is ``key(*args, **kwargs)``.
    """

    __slots__ = ("_aflights", "_clock", "_flights", "_key", "_lock", "coalesced", "name")

    def __init__(
        self,
        name: str = "default",
        *,
        key: KeyFunction | None = None,
        clock: Clock | None = None,
    ) -> None:
        callable_or_none(key, "key")
        self.name = policy_name(name)
        self._key: KeyFunction = key or default_key
        self._clock = clock or SYSTEM_CLOCK
        self._lock = threading.Lock()
        self.coalesced = 0  # calls that shared another call's execution (a plain counter)
        self._flights: dict[Hashable, _Flight[Any]] = {}
        self._aflights: dict[tuple[asyncio.AbstractEventLoop, Hashable], _AsyncFlight] = {}

    @property
    def in_flight(self) -> int:
        """How many executions are running now, sync and async."""
        with self._lock:
            return len(self._flights) + len(self._aflights)

    def running(self, key: Hashable) -> bool:
        """Whether an execution of ``key`` is running: on a thread, or on this thread's loop."""
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        with self._lock:
            if key in self._flights:
                return True
            return loop is not None and (loop, key) in self._aflights

    # -- threads ---------------------------------------------------------------------

    def run(self, key: Hashable, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)``, unless a call with ``key`` is running: then its outcome."""
        with self._lock:
            flight = self._flights.get(key)
            if flight is None:
                flight = self._flights[key] = _Flight()
                leader = True
            else:
                flight.followers += 1
                self.coalesced += 1
                leader = False
        if leader:
            return cast(T, self._lead(key, flight, fn, args, kwargs))
        if not self._clock.wait(flight.done, remaining()):
            raise _late(key)
        if flight.error is not None:
            raise flight.error
        return cast(T, flight.value)

    def _lead(
        self, key: Hashable, flight: _Flight[T], fn: Callable[..., T], args: Args, kwargs: Kwargs
    ) -> T:
        try:
            value = fn(*args, **kwargs)
        except BaseException as exc:
            flight.error = exc
            raise
        else:
            flight.value = value
            return value
        finally:
            with self._lock:
                del self._flights[key]
            flight.done.set()

    # -- asyncio ---------------------------------------------------------------------

    async def arun(
        self, key: Hashable, fn: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any
    ) -> T:
        """Await ``fn(*args, **kwargs)``, or the execution of ``key`` already running."""
        loop = asyncio.get_running_loop()
        slot = (loop, key)
        # Only this loop's thread touches ``slot``; the lock guards the shared dict only.
        while True:
            with self._lock:
                flight = self._aflights.get(slot)
            if flight is not None and flight.abandoned and flight.task.done():
                flight = None  # unwound: its own callback forgets it, a new one replaces it
            led = flight is None
            if flight is None:
                flight = self._start(slot, fn, args, kwargs)
            if not flight.abandoned:
                flight.waiters += 1
                self.coalesced += not led
                break
            # The last caller left and the old execution is unwinding; never overlap it.
            await self._clock.wait_future(flight.task, None)
        try:
            # The clock's wait never cancels the execution: a caller that gives up (its
            # deadline, or its own cancellation) leaves the others waiting.
            if not await self._clock.wait_future(flight.task, remaining()):
                raise _late(key)
            return cast(T, flight.task.result())
        finally:
            flight.waiters -= 1
            if flight.waiters == 0 and not flight.task.done():
                flight.abandoned = True
                flight.task.cancel()

    def _start(
        self,
        slot: tuple[asyncio.AbstractEventLoop, Hashable],
        fn: Callable[..., Awaitable[Any]],
        args: Args,
        kwargs: Kwargs,
    ) -> _AsyncFlight:
        task = asyncio.ensure_future(fn(*args, **kwargs))
        flight = _AsyncFlight(task)
        with self._lock:
            self._aflights[slot] = flight

        def forget(done: asyncio.Future[Any]) -> None:
            with self._lock:
                if self._aflights.get(slot) is flight:
                    del self._aflights[slot]
            if not done.cancelled():
                done.exception()  # every waiter got it; do not log it as unretrieved

        task.add_done_callback(forget)
        return flight

    # -- policy forms ------------------------------------------------------------------

    def _guard(self, fn: Callable[..., T], args: Args, kwargs: Kwargs) -> T:
        return self.run(self._key(*args, **kwargs), fn, *args, **kwargs)

    async def _aguard(self, fn: Callable[..., Awaitable[T]], args: Args, kwargs: Kwargs) -> T:
        return await self.arun(self._key(*args, **kwargs), fn, *args, **kwargs)

    def __repr__(self) -> str:
        return f"SingleFlight({self.name!r})"


def _late(key: Hashable) -> BaseException:
    """A follower's deadline passed before the execution it shares finished."""
    scope = current_deadline()
    assert scope is not None  # a finite wait only happens under a deadline
    return scope.exceeded(f"deadline passed waiting for a coalesced call of {key!r}")


@overload
def singleflight(fn: F, /) -> F: ...
@overload
def singleflight(
    *, key: KeyFunction | None = None, clock: Clock | None = None
) -> Callable[[F], F]: ...
def singleflight(
    fn: F | None = None, /, *, key: KeyFunction | None = None, clock: Clock | None = None
) -> F | Callable[[F], F]:
    """Coalesce concurrent calls of a ``def`` or ``async def`` with equal arguments.

    ``@singleflight`` or ``@singleflight(key=lambda user_id, **_: user_id)``; each decorated
    function gets its own :class:`SingleFlight`.
    """

    def decorate(func: F) -> F:
        name = getattr(func, "__qualname__", "singleflight")
        return SingleFlight(name, key=key, clock=clock)(func)

    if fn is not None:
        return decorate(fn)
    return decorate
