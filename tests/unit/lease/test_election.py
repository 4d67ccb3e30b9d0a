"""The pure election on virtual time: step-down before expiry, tokens, ordering, events."""

from __future__ import annotations

import itertools
import math
import random
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seawall import ConfigError
from seawall.lease import (
    Election,
    LeaderChanged,
    LeaderElector,
    LeadershipAcquired,
    LeadershipLost,
    LeaseAttemptFailed,
    LeaseTiming,
    MemoryLease,
    MemoryLeaseStore,
    Observation,
    Step,
)
from seawall.testing import FakeClock, capture_events

TIMING = LeaseTiming(lease_duration=2.0, renew_deadline=1.2, retry_period=0.2)


class NoJitter(random.Random):
    def random(self) -> float:
        return 0.0


def election(identity: str = "a", timing: LeaseTiming = TIMING) -> Election:
    return Election(timing, identity, "test", NoJitter())


def attempt(
    e: Election,
    backend: MemoryLease,
    clock: FakeClock,
    *,
    takes: float = 0.0,
    fails: bool = False,
    answer_lost: bool = False,
) -> Step:
    """One attempt as a shell runs it: the store acts at the end, after ``takes`` seconds."""
    started = clock.now()
    e.begin_attempt(started)
    clock.advance(takes)
    if fails:
        return e.failed(started, clock.now(), TimeoutError("blackholed"))
    seen = backend.try_acquire_or_renew(e.identity, e.timing.lease_duration, 1.0)
    if answer_lost:
        return e.failed(started, clock.now(), TimeoutError("answer lost"))
    step = e.observed(started, clock.now(), seen)
    if step.release:
        backend.release(1.0)
    return step


def test_defaults_are_client_go_defaults_with_a_ten_percent_drift_margin() -> None:
    t = LeaseTiming()
    assert (t.lease_duration, t.renew_deadline, t.retry_period) == (15.0, 10.0, 2.0)
    assert t.drift_margin == 1.5
    assert t.attempt_limit == 5.0


@pytest.mark.parametrize(
    ("lease", "renew", "retry", "margin", "why"),
    [
        (2.0, 2.0, 0.2, None, "exceeds lease_duration"),
        (15.0, 14.0, 2.0, None, "exceeds lease_duration"),  # 14 + 1.5 > 15
        (2.0, 1.5, 0.2, 0.6, "exceeds lease_duration"),
        (2.0, 1.2, 1.2, None, "shorter than renew_deadline"),
        (0.0, 1.2, 0.2, None, "positive"),
        (math.nan, 1.2, 0.2, None, "positive"),
        (2.0, 1.2, 0.2, -0.1, "clock_drift_margin"),
    ],
)
def test_timing_rejects_combinations_that_could_overlap_leaders(
    lease: float, renew: float, retry: float, margin: float | None, why: str
) -> None:
    with pytest.raises(ConfigError, match=why):
        LeaseTiming(lease, renew, retry, margin)


def test_elector_accepts_timedeltas_and_checks_the_same_rules() -> None:
    store = MemoryLeaseStore(clock=FakeClock())
    elector = LeaderElector(
        store.lease(),
        lease_duration=timedelta(seconds=3),
        renew_deadline=timedelta(seconds=2),
        retry_period=timedelta(milliseconds=500),
    )
    assert elector.timing == LeaseTiming(3.0, 2.0, 0.5)
    with pytest.raises(ConfigError):
        LeaderElector(store.lease(), lease_duration=10, renew_deadline=10)


def test_a_term_ends_renew_deadline_after_the_start_of_the_attempt_that_won_it() -> None:
    clock = FakeClock(100.0)
    e = election()
    step = attempt(e, MemoryLeaseStore(clock=clock).lease(), clock, takes=0.3)
    [change] = step.changes
    assert change.kind == "started"
    assert change.leadership.token == 1
    assert change.leadership.acquired_at == 100.3
    # Anchored at the start (100.0), not the answer (100.3): the store extended the lease
    # somewhere in between, so only the start is a safe lower bound.
    assert change.leadership.valid_until == 100.0 + 1.2


def test_a_leader_that_cannot_renew_steps_down_before_its_lease_can_expire_for_anyone() -> None:
    clock = FakeClock()
    store = MemoryLeaseStore(clock=clock)
    a, b = election("a"), election("b")
    a_lease, b_lease = store.lease(), store.lease()
    attempt(a, a_lease, clock)  # a leads from 0.0; its hold expires at 2.0 in the store
    assert a.is_leader(0.0)

    stopped_at = None
    b_started = None
    while clock.now() < 3.0:
        clock.advance(0.1)
        now = clock.now()
        step = a.expire(now)
        if step.changes:
            assert stopped_at is None
            [change] = step.changes
            assert (change.kind, change.reason, step.release) == ("stopped", "renew_deadline", True)
            stopped_at = now
        if now >= a.next_wakeup():
            attempt(a, a_lease, clock, fails=True)  # partitioned: every renewal fails
        if now >= b.next_wakeup():
            for change in attempt(b, b_lease, clock).changes:
                assert change.kind == "started"
                b_started = now
        assert not (a.is_leader(clock.now()) and b.is_leader(clock.now()))

    assert stopped_at == pytest.approx(1.2)
    assert not a.is_leader(1.2)
    # b tries the moment a's hold can expire (free_in), never earlier than the store allows.
    assert b_started == pytest.approx(2.0, abs=0.11)
    assert b_started - stopped_at >= TIMING.drift_margin
    assert b.leadership(clock.now()) is not None
    assert b.leadership(clock.now()).token == 2  # type: ignore[union-attr]


def test_is_leader_turns_false_at_the_term_end_without_any_help_from_a_shell() -> None:
    clock = FakeClock()
    e = election()
    attempt(e, MemoryLeaseStore(clock=clock).lease(), clock)
    term = e.leadership(0.0)
    assert term is not None
    assert e.is_leader(term.valid_until - 1e-6)
    assert not e.is_leader(term.valid_until)
    assert e.leadership(term.valid_until) is None


def test_renewals_extend_the_term_from_each_renewal_start() -> None:
    clock = FakeClock()
    e = election()
    lease = MemoryLeaseStore(clock=clock).lease()
    attempt(e, lease, clock)
    clock.advance(0.2)
    step = attempt(e, lease, clock, takes=0.05)
    assert step.changes == ()
    term = e.leadership(clock.now())
    assert term is not None
    assert (term.token, term.valid_until) == (1, pytest.approx(0.2 + 1.2))


def test_a_late_answer_for_a_term_already_given_up_is_never_resumed() -> None:
    clock = FakeClock()
    e = election()
    lease = MemoryLeaseStore(clock=clock).lease()
    attempt(e, lease, clock)
    clock.advance(0.2)
    # The renewal reaches the store at once but its answer arrives after the term ended.
    started = clock.now()
    e.begin_attempt(started)
    seen = lease.try_acquire_or_renew("a", 2.0, 1.0)
    clock.advance(1.5)
    step = e.observed(started, clock.now(), seen)
    assert [(c.kind, c.reason) for c in step.changes] == [("stopped", "renew_deadline")]
    assert step.release
    assert not e.is_leader(clock.now())
    # The same token again is refused (released again), a new term gets a higher one.
    again = e.observed(clock.now(), clock.now(), Observation(True, 1, "a"))
    assert (again.changes, again.release) == ((), True)
    lease.release(1.0)
    step = attempt(e, lease, clock)
    assert [(c.kind, c.leadership.token) for c in step.changes] == [("started", 2)]


def test_an_answer_that_comes_too_late_to_act_on_starts_no_term_but_keeps_the_token() -> None:
    clock = FakeClock()
    e = election()
    lease = MemoryLeaseStore(clock=clock).lease()
    step = attempt(e, lease, clock, takes=1.3)  # won, but the window closed before the answer
    assert step.changes == ()
    assert not step.release
    assert e.next_wakeup() <= clock.now()  # try again at once, from a fresh start
    step = attempt(e, lease, clock)
    assert [(c.kind, c.leadership.token) for c in step.changes] == [("started", 1)]


def test_a_leader_whose_key_is_held_by_another_has_lost() -> None:
    clock = FakeClock()
    e = election()
    attempt(e, MemoryLeaseStore(clock=clock).lease(), clock)
    step = e.observed(0.1, 0.1, Observation(False, 7, "b"))
    assert [(c.kind, c.reason) for c in step.changes] == [("stopped", "lost")]
    assert step.release
    assert (step.holder_changed, step.new_holder) == (True, "b")


def test_a_newer_term_of_its_own_supersedes_the_old_one_in_order() -> None:
    clock = FakeClock()
    e = election()
    attempt(e, MemoryLeaseStore(clock=clock).lease(), clock)
    step = e.observed(0.1, 0.1, Observation(True, 5, "a"))
    assert [(c.kind, c.leadership.token, c.reason) for c in step.changes] == [
        ("stopped", 1, "superseded"),
        ("started", 5, None),
    ]


def test_attempts_never_outlive_the_term_and_candidates_retry_within_retry_period() -> None:
    clock = FakeClock()
    e = Election(TIMING, "a", "test", random.Random(7))
    assert e.begin_attempt(0.0) == TIMING.attempt_limit == 0.6
    for _ in range(50):
        start = e.next_wakeup()
        e.begin_attempt(start)
        assert 0.8 * 0.2 <= e.next_wakeup() - start <= 0.2
    lease = MemoryLeaseStore(clock=clock).lease()
    attempt(e, lease, clock)
    assert e.begin_attempt(1.1) == pytest.approx(0.1)  # the term ends at 1.2
    assert e.next_wakeup() == pytest.approx(1.2)  # wake to step down, if nothing else


def test_a_candidate_tries_again_the_moment_the_holder_can_expire() -> None:
    e = election("b")
    e.begin_attempt(0.0)
    e.observed(0.0, 0.01, Observation(False, 3, "a", free_in=0.05))
    assert e.next_wakeup() == pytest.approx(0.01 + 0.05 + 0.002)


def test_stop_ends_the_term_with_reason_stopped_and_asks_for_release() -> None:
    clock = FakeClock()
    e = election()
    attempt(e, MemoryLeaseStore(clock=clock).lease(), clock)
    step = e.stop(0.5)
    assert [(c.kind, c.reason) for c in step.changes] == [("stopped", "stopped")]
    assert step.release
    assert e.next_wakeup() == math.inf
    assert e.stop(0.6, release=False) == Step()


def test_every_decision_is_an_event() -> None:
    clock = FakeClock()
    store = MemoryLeaseStore(clock=clock)
    e = election()
    lease = store.lease()
    with capture_events() as events:
        attempt(e, lease, clock)
        clock.advance(0.2)
        attempt(e, lease, clock, fails=True)
        clock.advance(1.0)
        e.expire(clock.now())
    kinds = [type(ev) for ev in events]
    assert kinds == [LeadershipAcquired, LeaderChanged, LeaseAttemptFailed, LeadershipLost]
    acquired = events[0]
    assert isinstance(acquired, LeadershipAcquired)
    assert (acquired.policy, acquired.name, acquired.token, acquired.at) == (
        "leader_election",
        "test",
        1,
        0.0,
    )
    lost = events[3]
    assert isinstance(lost, LeadershipLost)
    assert (lost.reason, lost.held_for, lost.at) == (
        "renew_deadline",
        pytest.approx(1.2),
        pytest.approx(1.2),
    )


_actions = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c"]),
        st.sampled_from(["attempt", "fail", "lost_answer", "wait"]),
        st.floats(0.0, 1.5),
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(_actions)
def test_no_two_electors_ever_lead_at_once_and_tokens_only_increase(
    actions: list[tuple[str, str, float]],
) -> None:
    clock = FakeClock()
    store = MemoryLeaseStore(clock=clock)
    electors = {n: election(n) for n in "abc"}
    leases = {n: store.lease() for n in "abc"}
    terms: dict[int, list[float]] = {}  # token -> [start, end]
    owner: dict[int, str] = {}
    started_tokens: list[int] = []

    def record(who: str, step: Step) -> None:
        for change in step.changes:
            term = change.leadership
            if change.kind == "started":
                started_tokens.append(term.token)
                owner[term.token] = who
                terms[term.token] = [term.acquired_at, term.valid_until]
            else:
                terms[term.token][1] = min(terms[term.token][1], clock.now())

    for who, action, seconds in actions:
        e = electors[who]
        record(who, e.expire(clock.now()))
        if action == "wait":
            clock.advance(seconds)
            continue
        takes = seconds / 3
        step = attempt(
            e,
            leases[who],
            clock,
            takes=takes,
            fails=action == "fail",
            answer_lost=action == "lost_answer",
        )
        record(who, step)
        term = e.leadership(clock.now())
        if term is not None:
            terms[term.token][1] = term.valid_until
        leading = [n for n, x in electors.items() if x.is_leader(clock.now())]
        assert len(leading) <= 1, leading

    assert started_tokens == sorted(set(started_tokens))
    spans = sorted((s, e, owner[t]) for t, (s, e) in terms.items())
    for (_s1, e1, w1), (s2, _, w2) in itertools.pairwise(spans):
        assert e1 <= s2, f"{w1} led until {e1}, {w2} from {s2}"
