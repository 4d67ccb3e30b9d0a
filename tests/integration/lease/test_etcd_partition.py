"""A partitioned leader steps down in time, and its late writes are fenced.

Against a real one-node etcd (and the first test also against a real redis-server), with
each elector reaching the store through its own blackholing relay.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from seawall.lease import (
    EtcdLease,
    LeaderElector,
    LeaseBackend,
    RedisLease,
    SQLiteFencedStore,
    StaleToken,
)

from ._support import LEASE, RENEW, RETRY, Timeline, wait_until
from .conftest import BlackholeRelay, EtcdNode

pytestmark = pytest.mark.integration

# is_leader() turns false exactly at the term's end; the test sees it through a polling
# thread, which a busy machine can delay by a few milliseconds.
POLL_SLACK = 0.05


def _elector(
    name: str, url: str, timeline: Timeline, key: str = "seawall/test", **timing: float
) -> LeaderElector:
    params = {"lease_duration": LEASE, "renew_deadline": RENEW, "retry_period": RETRY}
    params.update(timing)
    backend: LeaseBackend = (
        RedisLease(url, key, socket_timeout=0.3)
        if url.startswith("redis:")
        else EtcdLease(url, key)
    )
    return LeaderElector(backend, identity=name, name=name, **params, **timeline.hooks(name))


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as stack:
        yield stack


@pytest.mark.parametrize("kind", ["etcd", "redis"])
def test_partitioned_leader_steps_down_new_leader_after_expiry_and_stale_writes_are_fenced(
    kind: str,
    request: pytest.FixtureRequest,
    relays: list[BlackholeRelay],
    tmp_path: Path,
    stack: ExitStack,
) -> None:
    if kind == "etcd":
        upstream, scheme = request.getfixturevalue("etcd").url, "http"
    else:
        upstream, scheme = request.getfixturevalue("redis_url"), "redis"
    timeline = Timeline()
    relays += [BlackholeRelay(upstream), BlackholeRelay(upstream)]
    a = _elector("a", relays[0].url(scheme), timeline)
    b = _elector("b", relays[1].url(scheme), timeline)
    store = stack.enter_context(SQLiteFencedStore(tmp_path / "fenced.db"))
    stack.callback(a.backend.close)
    stack.callback(b.backend.close)
    with a, timeline.watch({"a": a, "b": b}):
        term_a = a.wait_for_leadership(10)
        assert term_a is not None
        with b:
            store.write("x", "from a", token=term_a.token)
            time.sleep(3 * RETRY)
            assert not b.is_leader()

            relays[0].partition()
            cut = time.monotonic()
            stepped_down = wait_until(lambda: not a.is_leader(), RENEW + 1)
            term_b = b.wait_for_leadership(LEASE + RETRY + 3)
            elected = time.monotonic()
            assert term_b is not None

            store.write("x", "from b", token=term_b.token)
            store.write("y", "from b", token=term_b.token)
            # The deposed leader's writes, checked while it led, land now: refused.
            for key in ("z", "x"):
                with pytest.raises(StaleToken) as refused:
                    store.write(key, "late from a", token=term_a.token)
                assert (refused.value.token, refused.value.highest) == (term_a.token, term_b.token)

            relays[0].heal()
            time.sleep(4 * RETRY)
            assert b.is_leader()
            assert not a.is_leader()
        timeline.assert_no_overlap()

    step_down = stepped_down - cut
    failover = elected - cut
    assert step_down <= RENEW + POLL_SLACK, step_down
    assert term_b.token > term_a.token
    # No one can win before the deposed leader's lease expires in etcd.
    assert failover >= LEASE - RETRY - 0.05, failover
    # Candidates take over a key whose renewals stopped for lease_duration (etcd's own
    # expiry sweep would add up to 500 ms); the slack is request latency on a busy box.
    assert failover <= LEASE + RETRY + 0.25, failover
    records = store.records()
    assert [(r.key, r.value, r.token) for r in records] == [
        ("x", "from b", term_b.token),
        ("y", "from b", term_b.token),
    ]
    print(
        f"\n{kind}: partitioned leader stepped down after {step_down:.3f}s (renew_deadline "
        f"{RENEW}s); new leader after {failover:.3f}s (lease_duration + retry_period "
        f"{LEASE + RETRY}s); stale-token writes refused, final state from term {term_b.token}"
    )


def test_twenty_random_partition_cycles_never_show_two_acting_leaders(
    etcd: EtcdNode, relays: list[BlackholeRelay], stack: ExitStack
) -> None:
    # Shorter durations for the cycles (etcd allows 1 s leases with a 50 ms heartbeat).
    timing = {"lease_duration": 1.0, "renew_deadline": 0.6, "retry_period": 0.1}
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    timeline = Timeline()
    names = ("a", "b", "c")
    for _ in names:
        relays.append(BlackholeRelay(etcd.url))
    electors = {
        n: _elector(n, r.url(), timeline, "seawall/cycles", **timing)
        for n, r in zip(names, relays, strict=True)
    }
    for e in electors.values():
        stack.callback(e.backend.close)
        stack.enter_context(e)
    step_downs: list[float] = []
    failovers = 0
    started = time.monotonic()
    with timeline.watch(electors):
        for cycle in range(20):
            leader = next((n for n, e in electors.items() if e.is_leader()), None)
            if leader is None:
                wait_until(lambda: any(e.is_leader() for e in electors.values()), 5)
                leader = next((n for n, e in electors.items() if e.is_leader()), None)
            victim = leader if leader is not None and rng.random() < 0.75 else rng.choice(names)
            long = rng.random() < 0.5
            duration = rng.uniform(1.5, 1.8) if long else rng.uniform(0.1, 0.8)
            relay = relays[names.index(victim)]
            relay.partition()
            cut = time.monotonic()
            if victim == leader:
                try:
                    gone = wait_until(
                        lambda v=victim: not electors[v].is_leader(), duration, step=0.002
                    )
                    step_downs.append(gone - cut)
                except AssertionError:
                    pass  # a short partition the leader rode out
            time.sleep(max(0.0, duration - (time.monotonic() - cut)))
            if victim == leader and long:
                others = [e for n, e in electors.items() if n != victim]
                if any(e.is_leader() for e in others):
                    failovers += 1
            relay.heal()
            time.sleep(rng.uniform(0.1, 0.3))
            assert cycle < 19 or time.monotonic() - started < 60
        intervals = timeline.assert_no_overlap()
    elapsed = time.monotonic() - started
    assert step_downs, "no partition ever deposed a leader"
    assert max(step_downs) <= timing["renew_deadline"] + POLL_SLACK, step_downs
    assert failovers >= 1
    tokens = [iv.token for iv in sorted(timeline.polled, key=lambda iv: iv.start)]
    assert tokens == sorted(set(tokens)), tokens  # every term's token higher than the last
    print(
        f"\n20 partition/heal cycles (seed {seed}) in {elapsed:.1f}s: {intervals} leader "
        f"terms, {len(step_downs)} step-downs (max {max(step_downs):.3f}s vs renew_deadline "
        f"{timing['renew_deadline']}s), {failovers} failovers during long partitions, "
        "no overlap"
    )
