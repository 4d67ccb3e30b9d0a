"""The thread and asyncio shells on virtual time: callbacks, iterator, stop, a hung store."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest

from seawall.lease import (
    AsyncLeaderElector,
    LeaderElector,
    Leadership,
    MemoryLease,
    MemoryLeaseStore,
    Observation,
    StopReason,
)
from seawall.lease._elector import _resume
from seawall.testing import FakeClock

TIMING = {"lease_duration": 2.0, "renew_deadline": 1.2, "retry_period": 0.2}


class Flaky:
    """A memory lease whose store can be cut off (fails) or hang (blocks until released)."""

    def __init__(self, lease: MemoryLease) -> None:
        self.lease = lease
        self.cut = False
        self.hang: threading.Event | None = None
        self.hanging = threading.Event()
        self.attempts = 0

    def try_acquire_or_renew(
        self, identity: str, lease_duration: float, limit: float
    ) -> Observation:
        self.attempts += 1
        if self.hang is not None:
            self.hanging.set()
            self.hang.wait(10)
            raise TimeoutError("the store hung")
        if self.cut:
            raise ConnectionError("partitioned")
        return self.lease.try_acquire_or_renew(identity, lease_duration, limit)

    def release(self, limit: float) -> None:
        if not self.cut:
            self.lease.release(limit)

    def close(self) -> None:
        pass


class AsyncFlaky:
    def __init__(self, flaky: Flaky) -> None:
        self.flaky = flaky

    async def try_acquire_or_renew(
        self, identity: str, lease_duration: float, limit: float
    ) -> Observation:
        await asyncio.sleep(0)
        return self.flaky.try_acquire_or_renew(identity, lease_duration, limit)

    async def release(self, limit: float) -> None:
        self.flaky.release(limit)

    async def aclose(self) -> None:
        pass


def eventually(condition: Callable[[], object], within: float = 10.0) -> None:
    until = time.monotonic() + within
    while not condition():
        assert time.monotonic() < until, "condition not met"
        time.sleep(0.001)


class Log:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.entries: list[tuple[str, int | str | None, str | None, float]] = []

    def started(self, term: Leadership) -> None:
        self.entries.append(("started", term.token, None, self.clock.now()))

    def stopped(self, term: Leadership, reason: StopReason) -> None:
        self.entries.append(("stopped", term.token, reason, self.clock.now()))

    def new_leader(self, holder: str | None) -> None:
        self.entries.append(("holder", holder, None, self.clock.now()))

    def kinds(self) -> list[tuple[str, int | str | None, str | None]]:
        return [(k, t, r) for k, t, r, _ in self.entries]


def test_thread_elector_calls_back_in_order_across_terms_and_on_stop() -> None:
    clock = FakeClock()
    flaky = Flaky(MemoryLeaseStore(clock=clock).lease())
    log = Log(clock)
    elector = LeaderElector(
        flaky,
        identity="me",
        clock=clock,
        on_started_leading=log.started,
        on_stopped_leading=log.stopped,
        on_new_leader=log.new_leader,
        **TIMING,
    )
    with elector:
        term = elector.wait_for_leadership(5)
        assert term is not None
        assert elector.token == term.token == 1
        assert elector.holder == "me"
        flaky.cut = True
        eventually(lambda: len(log.entries) >= 3)
        assert not elector.is_leader()
        stopped_at = log.entries[2][3]
        assert stopped_at >= term.valid_until  # not before the term's end ...
        assert stopped_at - term.valid_until < 0.2  # ... and promptly after it
        flaky.cut = False
        eventually(lambda: elector.token is not None)
    assert log.kinds() == [
        ("started", 1, None),
        ("holder", "me", None),
        ("stopped", 1, "renew_deadline"),
        ("started", 2, None),
        ("stopped", 2, "stopped"),
    ]
    assert not elector.is_leader()
    # Counted for the metrics: four terms started or ended, and no longer leader.
    import seawall

    lease = seawall.snapshot(elector).find("lease", elector.name)
    assert lease is not None
    assert (lease["leader"], lease["transitions"]) == (False, 4)


def test_stopped_leading_fires_at_the_term_end_even_while_the_store_hangs() -> None:
    clock = FakeClock()
    flaky = Flaky(MemoryLeaseStore(clock=clock).lease())
    log = Log(clock)
    elector = LeaderElector(
        flaky, clock=clock, on_started_leading=log.started, on_stopped_leading=log.stopped, **TIMING
    )
    with elector:
        term = elector.wait_for_leadership(5)
        assert term is not None
        flaky.hang = threading.Event()
        flaky.hanging.wait(5)
        eventually(lambda: len(log.entries) == 2)
        assert log.kinds()[1] == ("stopped", 1, "renew_deadline")
        assert log.entries[1][3] - term.valid_until < 0.2
        assert flaky.hang is not None
        hang, flaky.hang = flaky.hang, None
        hang.set()


def test_stop_releases_the_key_so_another_elector_wins_at_once() -> None:
    clock = FakeClock()
    store = MemoryLeaseStore(clock=clock)
    first = LeaderElector(store.lease(), identity="first", clock=clock, **TIMING)
    with first:
        assert first.wait_for_leadership(5) is not None
    assert store.holder() is None
    kept = LeaderElector(store.lease(), clock=clock, release_on_stop=False, **TIMING)
    with kept:
        assert kept.wait_for_leadership(5) is not None
    assert store.holder() is not None


def test_wait_for_leadership_gives_up_after_its_timeout() -> None:
    clock = FakeClock()
    store = MemoryLeaseStore(clock=clock)
    with LeaderElector(store.lease(), identity="holder", clock=clock, **TIMING) as holder:
        assert holder.wait_for_leadership(5) is not None
        with LeaderElector(store.lease(), clock=clock, **TIMING) as other:
            before = clock.now()
            assert other.wait_for_leadership(1.0) is None
            assert clock.now() - before >= 1.0 - 1e-9  # float sums of virtual time
            assert other.holder == "holder"


def test_starting_twice_is_an_error_and_repr_says_what_it_is() -> None:
    elector = LeaderElector(MemoryLeaseStore().lease(), name="jobs", identity="x", **TIMING)
    with elector, pytest.raises(RuntimeError, match="already started"):
        elector.start()
    assert "LeaderElector('jobs', identity='x', lease_duration=2.0" in repr(elector)


def test_a_raising_callback_is_logged_and_changes_nothing(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()

    def boom(term: Leadership) -> None:
        raise RuntimeError("callback bug")

    elector = LeaderElector(
        MemoryLeaseStore(clock=clock).lease(), clock=clock, on_started_leading=boom, **TIMING
    )
    with elector:
        assert elector.wait_for_leadership(5) is not None
        assert elector.is_leader()
    assert any("started callback failed" in r.getMessage() for r in caplog.records)


def test_async_elector_yields_changes_in_the_same_order_as_its_callbacks() -> None:
    async def main() -> tuple[list[tuple[str, int, str | None]], Log]:
        clock = FakeClock()
        flaky = Flaky(MemoryLeaseStore(clock=clock).lease())
        log = Log(clock)
        elector = AsyncLeaderElector(
            AsyncFlaky(flaky),
            clock=clock,
            on_started_leading=log.started,
            on_stopped_leading=log.stopped,
            **TIMING,
        )
        seen: list[tuple[str, int, str | None]] = []
        changes = elector.changes()

        async def consume() -> None:
            async for change in changes:
                seen.append((change.kind, change.leadership.token, change.reason))

        consumer = asyncio.create_task(consume())
        async with elector:
            term = await elector.wait_for_leadership()
            assert term is not None
            assert elector.is_leader()
            watch = elector.changes()
            flaky.cut = True
            async for change in watch:
                if change.kind == "stopped":
                    break
            await watch.aclose()
            assert not elector.is_leader()
            flaky.cut = False
            async with asyncio.timeout(5):
                assert (await elector.wait_for_leadership()) is not None
        await asyncio.wait_for(consumer, 5)
        return seen, log

    seen, log = asyncio.run(main())
    expected = [
        ("started", 1, None),
        ("stopped", 1, "renew_deadline"),
        ("started", 2, None),
        ("stopped", 2, "stopped"),
    ]
    assert seen == expected
    assert log.kinds() == expected


def test_async_changes_after_close_end_at_once_and_a_late_subscriber_sees_the_term() -> None:
    async def main() -> None:
        clock = FakeClock()
        store = MemoryLeaseStore(clock=clock)
        elector = AsyncLeaderElector(store.async_lease(), clock=clock, **TIMING)
        async with elector:
            term = await elector.wait_for_leadership()
            assert term is not None
            late = elector.changes()
            first = await anext(late)
            assert (first.kind, first.leadership.token) == ("started", term.token)
            await late.aclose()
        assert [c async for c in elector.changes()] == []
        assert store.holder() is None

    asyncio.run(main())


def test_the_async_elector_parks_on_the_clock_alone_with_no_helper_task() -> None:
    async def main() -> None:
        clock = FakeClock()
        elector = AsyncLeaderElector(
            MemoryLeaseStore(clock=clock).async_lease(), clock=clock, **TIMING
        )
        async with elector:
            assert await elector.wait_for_leadership() is not None
            for _ in range(3):
                await asyncio.sleep(0)  # the elector parks until its next renewal
            assert asyncio.all_tasks() == {asyncio.current_task(), elector._task}
            await clock.asleep(1.0)  # renewals on the way wake it through the clock
            assert elector.is_leader()

    asyncio.run(main())


def test_the_campaign_is_one_flow_that_asks_its_shell_for_every_wait_and_attempt() -> None:
    """Driven by hand: what the campaign asks for, in order, with no thread or task."""
    from concurrent.futures import Future

    from seawall.lease._elector import _ATTEMPT, _PARK, _RELEASE

    clock = FakeClock()
    log = Log(clock)
    lease = MemoryLeaseStore(clock=clock).lease()
    elector = LeaderElector(
        lease, identity="a", clock=clock, on_started_leading=log.started,
        on_stopped_leading=log.stopped, **TIMING,
    )  # fmt: skip
    flow = elector._campaign()
    what, limit, _ = _resume(flow, None, None) or (None, None, None)
    assert (what, limit) == (_ATTEMPT, elector.timing.attempt_limit)  # campaign at once
    attempt: Future[Observation] = Future()
    attempt.set_result(lease.try_acquire_or_renew("a", 2.0, 1.2))
    what, limit, _ = _resume(flow, attempt, None) or (None, None, None)
    assert what == _PARK
    assert limit is not None
    assert 0 < limit <= 0.2  # renew after the (jittered) retry period
    assert elector.is_leader()
    elector._stopping = True
    assert _resume(flow, None, None) == (_RELEASE, None, None)  # stopped: release the lease
    assert _resume(flow, None, None) is None
    assert log.kinds() == [("started", 1, None), ("stopped", 1, "stopped")]


def test_a_campaign_abandoned_by_its_shell_ends_leadership_without_asking_for_io() -> None:
    clock = FakeClock()
    log = Log(clock)
    lease = MemoryLeaseStore(clock=clock).lease()
    elector = LeaderElector(lease, identity="a", clock=clock, on_stopped_leading=log.stopped)
    flow = elector._campaign()
    _resume(flow, None, None)
    flow.close()  # as when the task running it is destroyed: no RuntimeError, no yield
    assert log.kinds() == []  # it never led
