"""hypothesis state machines: breaker and bulkhead invariants under arbitrary interleavings."""

from __future__ import annotations

import asyncio
import contextlib

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import seawall
from seawall._gate import Wait, park_thread
from seawall.policies._breaker import LEGAL_TRANSITIONS
from seawall.testing import FakeClock


class BreakerMachine(RuleBasedStateMachine):
    """Calls start and finish in any order; time jumps; operators intervene.

    Every call goes through the breaker's public ``acall``: each is a task parked inside
    the protected function until the machine finishes it with a result, an error or a
    cancellation.
    """

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.clock = FakeClock()
        self.half_open_calls = 2
        self.breaker = seawall.CircuitBreaker(
            "m", min_calls=4, cooldown=5.0, half_open_calls=self.half_open_calls, clock=self.clock
        )
        # Calls admitted and in flight: their task, what ends them, and the generation of
        # the state that admitted them.
        self.in_flight: list[tuple[asyncio.Task[None], asyncio.Future[None], int]] = []
        self.transitions: list[tuple[str, str]] = []
        self.remove = seawall.add_hook(self._on_event)

    def _on_event(self, event: seawall.Event) -> None:
        if isinstance(event, seawall.BreakerStateChanged):
            self.transitions.append((event.old, event.new))

    def _settle(self) -> None:
        self.loop.run_until_complete(asyncio.sleep(0))

    def teardown(self) -> None:
        for task, _, _ in self.in_flight:
            task.cancel()
        self.loop.run_until_complete(asyncio.sleep(0))
        self.loop.close()
        self.remove()

    @rule()
    def start_call(self) -> None:
        done: asyncio.Future[None] = self.loop.create_future()
        admitted: list[int] = []

        async def protected() -> None:
            admitted.append(self.breaker._gen)
            await done

        async def caller() -> None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await self.breaker.acall(protected)

        task = self.loop.create_task(caller())
        self._settle()
        if admitted:
            self.in_flight.append((task, done, admitted[0]))

    @precondition(lambda self: self.in_flight)
    @rule(index=st.integers(min_value=0), outcome=st.sampled_from(["ok", "fail", "cancel"]))
    def finish_call(self, index: int, outcome: str) -> None:
        task, done, _ = self.in_flight.pop(index % len(self.in_flight))
        if outcome == "ok":
            done.set_result(None)
        elif outcome == "fail":
            done.set_exception(ConnectionError())
        else:
            task.cancel()
        self._settle()
        assert task.done()

    @rule(seconds=st.floats(min_value=0.0, max_value=8.0))
    def time_passes(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @rule(action=st.sampled_from(["force_open", "disable", "metrics_only", "reset"]))
    def operator(self, action: str) -> None:
        getattr(self.breaker, action)()

    @invariant()
    def probes_never_exceed_half_open_calls(self) -> None:
        b = self.breaker
        assert 0 <= b._probes <= self.half_open_calls
        if b._state == "half_open":
            live = sum(1 for _, _, gen in self.in_flight if gen == b._gen)
            assert live + b._probe_done <= self.half_open_calls

    @invariant()
    def transitions_follow_legal_edges(self) -> None:
        assert all(t in LEGAL_TRANSITIONS for t in self.transitions)
        for (_, new), (old, _) in zip(self.transitions, self.transitions[1:], strict=False):
            assert new == old  # a chain: each change starts where the last ended

    @invariant()
    def window_totals_are_consistent(self) -> None:
        w = self.breaker._window
        assert 0 <= w.failures <= w.calls
        assert 0 <= w.slow <= w.calls


class BulkheadMachine(RuleBasedStateMachine):
    """Acquire/release/abandon in any order; the counts never break their bounds."""

    def __init__(self) -> None:
        super().__init__()
        self.bulkhead = seawall.Bulkhead("m", max_concurrent=3, max_queue=2, clock=FakeClock())
        self.holding = 0
        self.waiters: list[object] = []

    @rule()
    def arrive(self) -> None:
        got = self.bulkhead._enter(park_thread)
        if got is None:
            self.holding += 1
        elif isinstance(got, Wait):
            self.waiters.append(got)
        else:
            assert isinstance(got, seawall.BulkheadFull)

    @precondition(lambda self: self.holding)
    @rule()
    def leave(self) -> None:
        before = self.bulkhead.statistics().queued
        self.bulkhead.release()
        self.holding -= 1
        if before:
            # The slot went straight to the first live waiter.
            granted = [w for w in self.waiters if w.waiter]  # type: ignore[attr-defined]
            for waiter in granted:
                self.waiters.remove(waiter)
                self.holding += 1

    @precondition(lambda self: self.waiters)
    @rule(index=st.integers(min_value=0))
    def give_up(self, index: int) -> None:
        waiter = self.waiters.pop(index % len(self.waiters))
        assert not waiter.waiter  # type: ignore[attr-defined]  # a granted one left at once
        self.bulkhead._abandon(waiter)  # type: ignore[arg-type]

    @invariant()
    def in_flight_never_above_max_concurrent(self) -> None:
        stats = self.bulkhead.statistics()
        assert 0 <= stats.in_flight <= 3
        assert stats.in_flight == self.holding
        assert 0 <= stats.queued <= 2
        assert stats.queued == len(self.waiters)

    @invariant()
    def nobody_waits_while_a_slot_is_free(self) -> None:
        stats = self.bulkhead.statistics()
        assert stats.queued == 0 or stats.in_flight == 3


TestBreakerMachine = BreakerMachine.TestCase
TestBreakerMachine.settings = settings(max_examples=200, stateful_step_count=60, deadline=None)
TestBulkheadMachine = BulkheadMachine.TestCase
TestBulkheadMachine.settings = settings(max_examples=200, stateful_step_count=60, deadline=None)
