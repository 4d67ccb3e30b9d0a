"""Property: the shedder never admits a lower priority while refusing a higher one."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

import seawall
from seawall.policies._admission import GRANTED, QUEUED, AdmissionState, Waiter

RANKS = st.integers(0, 3)


class ShedderMachine(RuleBasedStateMachine):
    """Random arrivals, releases, give-ups and time on the pure admission state."""

    @initialize(
        limit=st.integers(1, 12),
        extra=st.integers(0, 4),
        max_queue=st.integers(0, 6),
        lifo=st.booleans(),
        adaptive=st.booleans(),
    )
    def setup(self, limit: int, extra: int, max_queue: int, lifo: bool, adaptive: bool) -> None:
        chosen: seawall.Limit = (
            seawall.AIMDLimit(initial=limit, max_limit=limit + extra, latency_threshold=1.0)
            if adaptive
            else seawall.FixedLimit(limit)
        )
        self.s = AdmissionState(
            chosen,
            max_concurrent=chosen.max_limit + extra,
            shares=(1.0, 0.8, 0.5),
            max_queue=max_queue,
            queue_target=0.005,
            queue_interval=0.100,
            lifo=lifo,
        )
        self.now = 0.0
        self.running = 0
        self.waiters: list[Waiter] = []

    def _arrive(self, rank: int) -> str:
        admitted, wait, evicted = self.s.try_admit(rank, self.now, None)
        self._settle(evicted)
        if admitted:
            self.running += 1
            return "admitted"
        if wait <= 0.0:
            self.s.refuse(rank)
            return "refused"
        waiter = Waiter(rank, self.now, lambda: None)
        self.s.enqueue(waiter)
        self.waiters.append(waiter)
        return "queued"

    def _settle(self, woken: list[Waiter]) -> None:
        for waiter in woken:
            self.waiters.remove(waiter)
            if waiter.state == GRANTED:
                self.running += 1

    @rule(rank=RANKS)
    def arrive(self, rank: int) -> None:
        self._arrive(rank)

    @rule(first=RANKS, second=RANKS)
    def two_arrivals_at_one_instant(self, first: int, second: int) -> None:
        higher, lower = sorted((first, second))
        outcome_high = self._arrive(higher)
        outcome_low = self._arrive(lower)
        if outcome_high != "admitted":
            # A more important call was not let in, so a less important one cannot be.
            assert outcome_low != "admitted"
        if outcome_high == "refused":
            assert outcome_low == "refused"

    @precondition(lambda self: self.running > 0)
    @rule(rtt=st.floats(0.0, 3.0), dropped=st.booleans())
    def release(self, rtt: float, dropped: bool) -> None:
        self.running -= 1
        self._settle(self.s.release(self.now, rtt=rtt, inflight=self.running, dropped=dropped))

    @precondition(lambda self: bool(self.waiters))
    @rule(index=st.integers(0, 100))
    def give_up(self, index: int) -> None:
        waiter = self.waiters[index % len(self.waiters)]
        self.waiters.remove(waiter)
        self._settle(self.s.abandon(waiter, self.now, "timed out"))

    @rule(seconds=st.sampled_from([0.0, 0.001, 0.004, 0.006, 0.05, 0.101, 1.0]))
    def time_passes(self, seconds: float) -> None:
        self.now += seconds

    @invariant()
    def refusals_are_monotone_in_priority(self) -> None:
        can = [self.s.can_start(rank) for rank in range(4)]
        for higher in range(4):
            for lower in range(higher + 1, 4):
                assert can[higher] or not can[lower]

    @invariant()
    def no_queued_call_could_start_now(self) -> None:
        for waiter in self.waiters:
            assert waiter.state == QUEUED
            assert not self.s.can_start(waiter.rank)

    @invariant()
    def counts_add_up(self) -> None:
        assert self.s.inflight == self.running <= self.s.max_concurrent
        assert self.s.queued == len(self.waiters) <= self.s.max_queue


ShedderMachine.TestCase.settings = settings(max_examples=300, stateful_step_count=60, deadline=None)
test_shedder_state_machine = ShedderMachine.TestCase
