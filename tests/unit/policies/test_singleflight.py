"""SingleFlight: one execution per key, shared outcomes, cancellation without leaks."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import seawall
from seawall.testing import FakeClock


def test_threads_share_one_execution_and_its_value() -> None:
    flight = seawall.SingleFlight()
    release = threading.Event()
    calls: list[int] = []

    def load(key: int) -> str:
        calls.append(key)
        release.wait()
        return f"value-{key}"

    with ThreadPoolExecutor(max_workers=20) as pool:
        futures = [pool.submit(flight.call, load, 7) for _ in range(20)]
        while flight.in_flight == 0:
            release.wait(0.0001)
        # Every caller has either joined or will; give stragglers no new execution.
        release.set()
        results = [f.result() for f in futures]
    assert set(results) == {"value-7"}
    assert len(calls) <= 20
    assert calls.count(7) == len(calls)
    assert flight.in_flight == 0


def test_threads_joining_a_running_execution_make_no_backend_call() -> None:
    flight = seawall.SingleFlight()
    entered, release = threading.Event(), threading.Event()
    calls = 0

    def load() -> str:
        nonlocal calls
        calls += 1
        entered.set()
        release.wait()
        return "v"

    leader = threading.Thread(target=lambda: flight.run("k", load))
    leader.start()
    entered.wait()
    with ThreadPoolExecutor(max_workers=50) as pool:
        followers = [pool.submit(flight.run, "k", load) for _ in range(50)]
        while True:
            with flight._lock:
                if flight._flights["k"].followers == 50:
                    break
            release.wait(0.0001)
        release.set()
        assert {f.result() for f in followers} == {"v"}
    leader.join()
    assert calls == 1


def test_an_error_reaches_every_thread_waiter() -> None:
    flight = seawall.SingleFlight()
    entered, release = threading.Event(), threading.Event()

    def load() -> str:
        entered.set()
        release.wait()
        raise ConnectionError("backend down")

    with ThreadPoolExecutor(max_workers=5) as pool:
        leader = pool.submit(flight.run, "k", load)
        entered.wait()
        followers = [pool.submit(flight.run, "k", load) for _ in range(4)]
        while flight._flights["k"].followers < 4:
            release.wait(0.0001)
        release.set()
        for future in [leader, *followers]:
            with pytest.raises(ConnectionError):
                future.result()
    assert flight.in_flight == 0


def test_a_thread_follower_waits_no_longer_than_its_deadline() -> None:
    clock = FakeClock()
    flight = seawall.SingleFlight(clock=clock)
    entered, release = threading.Event(), threading.Event()

    def load() -> str:
        entered.set()
        release.wait()
        return "late"

    leader = threading.Thread(target=lambda: flight.run("k", load))
    leader.start()
    entered.wait()
    with seawall.deadline(0.25, clock=clock), pytest.raises(seawall.DeadlineExceeded):
        flight.run("k", load)
    assert clock.now() == pytest.approx(0.25)
    release.set()
    leader.join()


def test_asyncio_callers_share_one_execution() -> None:
    async def main() -> None:
        flight = seawall.SingleFlight()
        calls = 0

        async def load(key: str) -> str:
            nonlocal calls
            calls += 1
            await asyncio.sleep(0)
            return key.upper()

        results = await asyncio.gather(*(flight.acall(load, "k") for _ in range(1000)))
        assert set(results) == {"K"}
        assert calls == 1
        assert flight.in_flight == 0

    asyncio.run(main())


def test_an_error_reaches_every_async_waiter() -> None:
    async def main() -> None:
        flight = seawall.SingleFlight()

        async def load() -> str:
            await asyncio.sleep(0)
            raise ConnectionError("backend down")

        results = await asyncio.gather(
            *(flight.arun("k", load) for _ in range(10)), return_exceptions=True
        )
        assert all(isinstance(r, ConnectionError) for r in results)
        assert flight.in_flight == 0

    asyncio.run(main())


def test_a_cancelled_async_waiter_does_not_cancel_the_others() -> None:
    async def main() -> None:
        flight = seawall.SingleFlight()
        release = asyncio.Event()

        async def load() -> str:
            await release.wait()
            return "v"

        waiters = [asyncio.create_task(flight.arun("k", load)) for _ in range(3)]
        await asyncio.sleep(0)
        waiters[0].cancel()
        await asyncio.sleep(0)
        release.set()
        assert await waiters[1] == await waiters[2] == "v"
        assert waiters[0].cancelled()
        assert flight.in_flight == 0

    asyncio.run(main())


def test_when_every_async_waiter_is_cancelled_the_execution_is_cancelled_too() -> None:
    async def main() -> None:
        flight = seawall.SingleFlight()
        started = finished = 0
        cancelled = asyncio.Event()
        running = 0
        overlap = False

        async def load() -> str:
            nonlocal started, finished, running, overlap
            started += 1
            running += 1
            overlap = overlap or running > 1
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.set()
                await asyncio.sleep(0)  # unwinding takes a while
                raise
            finally:
                running -= 1
                finished += 1
            return "never"

        async def fast() -> str:
            nonlocal running, overlap
            running += 1
            overlap = overlap or running > 1
            running -= 1
            return "fresh"

        waiters = [asyncio.create_task(flight.arun("k", load)) for _ in range(3)]
        await asyncio.sleep(0)
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
        # A newcomer while the abandoned execution unwinds waits for it: no overlap.
        assert await flight.arun("k", fast) == "fresh"
        assert cancelled.is_set()
        assert started == finished == 1
        assert not overlap
        assert flight.in_flight == 0

    asyncio.run(main())


def test_the_decorator_keys_on_arguments_or_a_key_function() -> None:
    calls: list[tuple[int, str]] = []

    @seawall.singleflight
    def plain(user: int, fields: str = "all") -> str:
        calls.append((user, fields))
        return f"{user}:{fields}"

    @seawall.singleflight(key=lambda user, **_: user)
    async def by_user(user: int, trace: str = "") -> int:
        await asyncio.sleep(0)
        return user

    assert plain(1) == "1:all"
    assert plain(1, fields="name") == "1:name"
    assert calls == [(1, "all"), (1, "name")]

    async def main() -> list[int]:
        return await asyncio.gather(by_user(1, trace="a"), by_user(1, trace="b"), by_user(2))

    assert asyncio.run(main()) == [1, 1, 2]


schedules = st.lists(
    st.tuples(
        st.sampled_from("abc"),  # key
        st.integers(0, 3),  # awaits before the call
        st.integers(0, 4),  # awaits inside the execution
        st.booleans(),  # fails
        st.sampled_from([None, 0, 1, 3]),  # cancel the caller after this many awaits
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=200, deadline=None)
@given(schedule=schedules)
def test_property_async_never_runs_two_executions_of_one_key_at_once(
    schedule: list[tuple[str, int, int, bool, int | None]],
) -> None:
    async def main() -> None:
        flight = seawall.SingleFlight()
        running: dict[str, int] = {}

        def execution(key: str, steps: int, fails: bool):  # type: ignore[no-untyped-def]
            async def run() -> str:
                running[key] = running.get(key, 0) + 1
                assert running[key] == 1, f"two executions of {key!r} at once"
                try:
                    for _ in range(steps):
                        await asyncio.sleep(0)
                    if fails:
                        raise ValueError(key)
                    return key
                finally:
                    running[key] -= 1

            return run

        async def caller(key: str, delay: int, steps: int, fails: bool) -> str:
            for _ in range(delay):
                await asyncio.sleep(0)
            return await flight.arun(key, execution(key, steps, fails))

        tasks = []
        for key, delay, steps, fails, cancel_after in schedule:
            task = asyncio.create_task(caller(key, delay, steps, fails))
            tasks.append((task, cancel_after))
        for step in range(6):
            for task, cancel_after in tasks:
                if cancel_after == step:
                    task.cancel()
            await asyncio.sleep(0)
        outcomes = await asyncio.gather(*(t for t, _ in tasks), return_exceptions=True)
        for outcome in outcomes:
            assert isinstance(outcome, (str, ValueError, asyncio.CancelledError))
        await asyncio.sleep(0)
        assert flight.in_flight == 0

    asyncio.run(main())


@settings(max_examples=30, deadline=None)
@given(keys=st.lists(st.sampled_from("ab"), min_size=2, max_size=16), spins=st.integers(0, 50))
def test_property_threads_never_run_two_executions_of_one_key_at_once(
    keys: list[str], spins: int
) -> None:
    flight = seawall.SingleFlight()
    lock = threading.Lock()
    running: dict[str, int] = {}
    violations: list[str] = []

    def load(key: str) -> str:
        with lock:
            running[key] = running.get(key, 0) + 1
            if running[key] > 1:
                violations.append(key)
        for _ in range(spins):
            threading.Event().wait(0)  # yield the GIL so other threads interleave
        with lock:
            running[key] -= 1
        return key

    with ThreadPoolExecutor(max_workers=len(keys)) as pool:
        results = list(pool.map(lambda k: flight.run(k, load, k), keys))
    assert results == keys
    assert not violations
    assert flight.in_flight == 0
