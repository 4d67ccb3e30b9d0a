"""Against a real three-node etcd: one node lost changes nothing, quorum lost steps down."""

from __future__ import annotations

import time

import pytest

from seawall.lease import EtcdLease, LeaderElector, LeaseAttemptFailed
from seawall.testing import capture_events

from ._support import Timeline, wait_until
from .conftest import EtcdNode

pytestmark = pytest.mark.integration

# Longer than the one-node timings: a lost etcd leader takes an etcd election
# (election timeout 500 ms, randomised up to 1 s) before renewals succeed again.
LEASE, RENEW, RETRY = 4.0, 3.0, 0.25
ETCD_ELECTION = 1.0


def test_losing_one_node_keeps_the_leader_and_losing_quorum_steps_it_down(
    etcd3: list[EtcdNode],
) -> None:
    raft_leader = next(n for n in etcd3 if n.is_raft_leader())
    others = [n for n in etcd3 if n is not raft_leader]
    # The elector talks to the etcd leader first: losing it is the worst single loss.
    endpoints = [raft_leader.url, *(n.url for n in others)]
    timeline = Timeline()

    def elector(name: str, urls: list[str]) -> LeaderElector:
        return LeaderElector(
            EtcdLease(urls, "seawall/cluster"),
            identity=name,
            name=name,
            lease_duration=LEASE,
            renew_deadline=RENEW,
            retry_period=RETRY,
            **timeline.hooks(name),
        )

    a = elector("a", endpoints)
    b = elector("b", endpoints[::-1])
    try:
        with capture_events() as events, a, timeline.watch({"a": a, "b": b}):
            term = a.wait_for_leadership(10)
            assert term is not None
            with b:
                time.sleep(2 * RETRY)
                raft_leader.kill()
                lost_one = time.monotonic()
                time.sleep(RENEW + ETCD_ELECTION)
                # Leadership was never interrupted: one term, still the same token.
                assert a.token == term.token
                assert [(iv.who, iv.token, iv.end) for iv in timeline.polled] == [
                    ("a", term.token, None)
                ]
                failed = [
                    e for e in events if isinstance(e, LeaseAttemptFailed) and e.identity == "a"
                ]
                held = time.monotonic() - lost_one

                others[0].kill()
                lost_quorum = time.monotonic()
                gone = wait_until(lambda: not a.is_leader(), RENEW + ETCD_ELECTION + 1)
                time.sleep(RETRY * 4)
                assert not b.is_leader()
            timeline.assert_no_overlap()
    finally:
        a.backend.close()
        b.backend.close()
    step_down = gone - lost_quorum
    assert step_down <= RENEW + ETCD_ELECTION, step_down
    print(
        f"\n3-node etcd: killed the etcd leader; elector led on for {held:.2f}s with the same "
        f"token ({len(failed)} renew attempts failed meanwhile). Killed a second node "
        f"(no quorum): stepped down after {step_down:.3f}s (renew_deadline {RENEW}s)"
    )
