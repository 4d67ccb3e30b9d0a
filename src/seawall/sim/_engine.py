"""Virtual time: a heap of timed actions, and coroutine processes stepped by it.

Half of a run's actions are due at once (a task woken, a callback made "soon"): those
wait in a first-in first-out ready queue beside the heap, which costs a fraction of a
heap entry and keeps the heap shallow.

A simulated second costs nothing: the engine jumps from one scheduled instant to the
next (trio's ``MockClock`` autojump, SimPy's environment), so an hour of traffic runs in
the time its events take to process. There is no event loop and no thread: an action is
a plain callable with one argument, and a process is a generator or an ``async def``
coroutine that the engine steps with ``send``. Ties at one instant run in the order they
were scheduled, so a run is a pure function of its inputs and its seed.

What a process may wait on:

* ``yield delay`` (a generator) or ``await engine.sleep(delay)``: resume ``delay``
  virtual seconds later;
* ``yield signal`` / ``await signal``: resume when the :class:`Signal` fires, with the
  value it was fired with.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Callable, Coroutine, Generator
from heapq import heappop, heappush
from typing import Any

from seawall._errors import ConfigError

__all__ = ["STALL", "Engine", "Process", "Signal", "Sleep"]

Action = Callable[[Any], object]

STALL = 10_000_000
"""Actions at one virtual instant beyond which a run is taken to be stuck there."""


class Engine:
    """The event heap and the virtual clock it advances."""

    __slots__ = ("events", "heap", "now", "ready", "seq")

    def __init__(self) -> None:
        # The heap, the ready queue and the sequence are public to the package's hot
        # paths, which push entries themselves to save a call per event: (when, seq,
        # action, arg) on the heap for a later instant, (seq, action, arg) on the ready
        # queue for now. Every entry takes the next number of one sequence, so the order
        # at one instant is the order of scheduling, whichever of the two holds it.
        self.now = 0.0
        self.events = 0
        self.heap: list[tuple[float, int, Action, Any]] = []
        self.ready: deque[tuple[int, Action, Any]] = deque()
        self.seq = itertools.count()

    def at(self, when: float, action: Action, arg: Any = None) -> None:
        """Run ``action(arg)`` at virtual time ``when`` (never earlier than now)."""
        if when > self.now:
            heappush(self.heap, (when, next(self.seq), action, arg))
        else:
            self.ready.append((next(self.seq), action, arg))

    def after(self, delay: float, action: Action, arg: Any = None) -> None:
        """Run ``action(arg)`` ``delay`` virtual seconds from now."""
        self.at(self.now + delay if delay > 0 else self.now, action, arg)

    def discard(self) -> None:
        """Drop every action still scheduled: the run they belonged to is over."""
        self.heap.clear()
        self.ready.clear()

    def sleep(self, delay: float) -> Sleep:
        """An awaitable that resumes the awaiting process ``delay`` seconds later."""
        return Sleep(delay)

    def spawn(self, body: Generator[Any, Any, Any] | Coroutine[Any, Any, Any]) -> Process:
        """Start a process now; its first step runs after the actions already due now."""
        process = Process(self, body)
        self.at(self.now, process.step, None)
        return process

    def run(self, until: float, *, stall: int = STALL) -> int:
        """Run every action due up to and including ``until``; return how many ran.

        The clock ends at ``until`` even when the heap empties earlier, so time-weighted
        statistics cover the whole horizon. More than ``stall`` actions at one virtual
        instant is a model whose time cannot advance (zero think time against zero service
        time, say): a :class:`ConfigError` says so instead of running forever.
        """
        if not isinstance(until, (int, float)) or isinstance(until, bool) or math.isnan(until):
            raise ConfigError(f"until must be a number of virtual seconds, got {until!r}")
        if until < self.now:
            raise ConfigError(f"until={until!r} is before the current virtual time {self.now!r}")
        heap = self.heap
        ready = self.ready
        pop = heappop
        next_ready = ready.popleft
        now = self.now
        ran = 0
        instant = now
        limit = stall
        while True:
            if ran >= limit:
                if now == instant:
                    raise ConfigError(
                        f"virtual time does not advance: more than {stall:,} actions at "
                        f"t={now:g} (a zero think time against a zero service time?)"
                    )
                instant = now
                limit = ran + stall
            # What is due now runs first, in sequence order: the ready queue, merged with
            # heap entries that fall on this instant (scheduled earlier for it, or for
            # "now" with a delay too small to move a float).
            if ready:
                if heap and heap[0][0] <= now and heap[0][1] < ready[0][0]:
                    _, _, action, arg = pop(heap)
                else:
                    _, action, arg = next_ready()
            elif heap:
                when, _, action, arg = item = pop(heap)
                if when > until:
                    heappush(heap, item)
                    break
                self.now = now = when
            else:
                break
            action(arg)
            ran += 1
        self.now = float(until)
        self.events += ran
        return ran


class Sleep:
    """``await Sleep(d)`` inside a process: resume ``d`` virtual seconds later."""

    __slots__ = ("delay",)

    def __init__(self, delay: float) -> None:
        self.delay = float(delay)

    def __await__(self) -> Generator[float, Any, None]:
        yield self.delay


class Signal:
    """A one-shot event processes wait on; firing it resumes each of them with a value."""

    __slots__ = ("_engine", "_waiters", "fired", "value")

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._waiters: list[Action] = []
        self.fired = False
        self.value: Any = None

    def fire(self, value: Any = None) -> None:
        """Fire once, now; later calls are ignored (the first outcome is the outcome)."""
        if self.fired:
            return
        self.fired = True
        self.value = value
        engine = self._engine
        for waiter in self._waiters:
            engine.at(engine.now, waiter, value)
        self._waiters.clear()

    def wait(self, waiter: Action) -> None:
        """Call ``waiter(value)`` when the signal fires (at once, in order, if it has)."""
        if self.fired:
            self._engine.at(self._engine.now, waiter, self.value)
        else:
            self._waiters.append(waiter)

    def __await__(self) -> Generator[Signal, Any, Any]:
        value = yield self
        return value


class Process:
    """A generator or coroutine stepped by the engine; ``done`` fires with its return value."""

    __slots__ = ("_body", "_engine", "done")

    def __init__(
        self, engine: Engine, body: Generator[Any, Any, Any] | Coroutine[Any, Any, Any]
    ) -> None:
        self._engine = engine
        self._body = body
        self.done = Signal(engine)

    def step(self, value: Any) -> None:
        """Send ``value`` into the body and schedule its next step by what it yields."""
        try:
            waited = self._body.send(value)
        except StopIteration as stop:
            self.done.fire(stop.value)
            return
        if waited.__class__ is float or waited.__class__ is int:
            self._engine.after(waited, self.step, None)
        elif isinstance(waited, Signal):
            waited.wait(self.step)
        else:
            self._body.close()
            raise TypeError(f"a simulated process may wait on a delay or a Signal, not {waited!r}")
