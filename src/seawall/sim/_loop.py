"""Just enough of an asyncio event loop, on the engine's virtual time.

seawall's async policies are plain asyncio code: they await futures, sleep with
``asyncio.sleep``, time out with ``asyncio.timeout`` and cancel tasks. To run that code
unchanged, the simulator lends it an event loop whose clock is the engine's and whose
"later" is an entry in the engine's heap and "soon" one in its ready queue (looptime and
trio's ``MockClock`` do the same for real loops). There is no selector and nothing to
wait for: the loop has no I/O, only time, so a callback costs one entry.

Tasks and futures are asyncio's own classes bound to this loop; ``World.run`` installs
the loop as the running loop while the engine runs, so ``asyncio.current_task()`` and
``asyncio.get_running_loop()`` answer inside simulated code.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Coroutine
from heapq import heappush
from typing import Any

from seawall.sim._engine import Engine

__all__ = ["VirtualLoop"]


def _run_handle(handle: asyncio.Handle) -> None:
    """``handle._run()`` written out: one Python frame fewer on every task step."""
    if handle._cancelled:
        return
    try:
        handle._context.run(handle._callback, *handle._args)  # type: ignore[attr-defined]
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as exc:
        # What asyncio reports for a callback that raised; the world re-raises it.
        handle._loop.call_exception_handler(  # type: ignore[attr-defined]
            {
                "message": f"Exception in callback {handle._callback!r}",  # type: ignore[attr-defined]
                "exception": exc,
                "handle": handle,
            }
        )


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():  # a sleep whose task was cancelled meanwhile
        future.set_result(None)


class _Soon(asyncio.Handle):
    """asyncio's Handle, made without asking the loop for debug mode each time.

    Every task step and every future callback is one of these: a run of a million
    requests makes several million, and ``Handle.__init__`` is a fifth of their cost.
    """

    __slots__ = ()

    def __init__(
        self,
        callback: Callable[..., object],
        args: tuple[Any, ...],
        loop: asyncio.AbstractEventLoop,
        context: contextvars.Context | None,
    ) -> None:
        self._context = contextvars.copy_context() if context is None else context
        self._loop = loop
        self._callback = callback
        self._args = args
        self._cancelled = False
        self._repr = None
        self._source_traceback = None


class _Timer(asyncio.TimerHandle):
    """asyncio's TimerHandle, made as cheaply as :class:`_Soon`."""

    __slots__ = ()

    def __init__(
        self,
        when: float,
        callback: Callable[..., object],
        args: tuple[Any, ...],
        loop: asyncio.AbstractEventLoop,
        context: contextvars.Context | None,
    ) -> None:
        self._context = contextvars.copy_context() if context is None else context
        self._loop = loop
        self._callback = callback
        self._args = args
        self._cancelled = False
        self._repr = None
        self._source_traceback = None
        self._when = when
        self._scheduled = False


class VirtualLoop(asyncio.AbstractEventLoop):
    """An asyncio loop with no I/O whose time is the engine's virtual time."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.errors: list[dict[str, Any]] = []
        self._previous: asyncio.AbstractEventLoop | None = None
        # Whether this is the running loop (between enter and leave): what simulated code
        # reads instead of asking asyncio, which costs a system call each time.
        self.running = False

    # time and scheduling -------------------------------------------------------------

    def time(self) -> float:
        return self._engine.now

    def call_soon(  # type: ignore[override]
        self,
        callback: Callable[..., object],
        *args: Any,
        context: contextvars.Context | None = None,
    ) -> asyncio.Handle:
        handle = _Soon(callback, args, self, context)
        engine = self._engine
        engine.ready.append((next(engine.seq), _run_handle, handle))
        return handle

    def call_at(  # type: ignore[override]
        self,
        when: float,
        callback: Callable[..., object],
        *args: Any,
        context: contextvars.Context | None = None,
    ) -> asyncio.TimerHandle:
        handle = _Timer(when, callback, args, self, context)
        self._engine.at(when, _run_handle, handle)
        return handle

    def call_later(  # type: ignore[override]
        self,
        delay: float,
        callback: Callable[..., object],
        *args: Any,
        context: contextvars.Context | None = None,
    ) -> asyncio.TimerHandle:
        return self.call_at(self._engine.now + max(delay, 0.0), callback, *args, context=context)

    def sleep(self, delay: float) -> Awaitable[None]:
        """``asyncio.sleep(delay)`` on this loop: one future, woken straight from the heap.

        Simulated work, think time and backoff are sleeps: a third of a run's events.
        asyncio's own makes a timer handle and runs a callback in a context to set the
        future; this sets it directly, with the same heap entry and the same order.
        """
        if not delay > 0.0:
            return asyncio.sleep(0)
        engine = self._engine
        future: asyncio.Future[None] = asyncio.Future(loop=self)
        heappush(engine.heap, (engine.now + delay, next(engine.seq), _wake, future))
        return future

    def _timer_handle_cancelled(self, handle: asyncio.TimerHandle) -> None:
        """A cancelled timer stays in the heap and is skipped when due."""

    # futures and tasks ---------------------------------------------------------------

    def create_future(self) -> asyncio.Future[Any]:
        return asyncio.Future(loop=self)

    def create_task(  # type: ignore[override]
        self,
        coro: Coroutine[Any, Any, Any],
        *,
        name: str | None = None,
        context: contextvars.Context | None = None,
    ) -> asyncio.Task[Any]:
        return asyncio.Task(coro, loop=self, name=name, context=context)

    # state ---------------------------------------------------------------------------

    def get_debug(self) -> bool:
        return False

    def is_running(self) -> bool:
        return asyncio._get_running_loop() is self

    def is_closed(self) -> bool:
        return False

    def enter(self) -> None:
        """Become the running loop of this thread while the engine runs."""
        self._previous = asyncio._get_running_loop()
        asyncio._set_running_loop(self)
        self.running = True

    def leave(self) -> None:
        asyncio._set_running_loop(self._previous)
        self._previous = None
        self.running = False

    # errors --------------------------------------------------------------------------

    def call_exception_handler(self, context: dict[str, Any]) -> None:
        """Keep what asyncio reports (a callback that raised); the world re-raises it."""
        self.errors.append(context)

    def default_exception_handler(self, context: dict[str, Any]) -> None:
        self.errors.append(context)
