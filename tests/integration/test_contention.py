"""Real threads, real time: the breaker and bulkhead never serialise callers.

pybreaker holds its lock across the protected call, so 8 threads behind a 50 ms
dependency take 8 x 50 ms. seawall's lock only guards bookkeeping; these tests pin that.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

import seawall

CALL = 0.050


def run_threads(n: int, target: Callable[[], object]) -> float:
    barrier = threading.Barrier(n + 1)
    errors: list[BaseException] = []

    def worker() -> None:
        barrier.wait()
        try:
            target()
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    assert not errors, errors
    return elapsed


def test_eight_threads_through_one_breaker_run_in_parallel() -> None:
    breaker = seawall.CircuitBreaker("shared")

    @breaker
    def call_dependency() -> None:
        time.sleep(CALL)

    elapsed = run_threads(8, call_dependency)
    # Serialised behind a lock they would take 8 x 50 ms = 400 ms; in parallel, ~50 ms.
    assert elapsed < 2 * CALL, f"8 x 50 ms calls took {elapsed * 1000:.0f} ms"
    assert breaker.statistics().calls == 8


def test_eight_threads_through_the_standard_pipeline_run_in_parallel() -> None:
    pipeline = seawall.standard("shared")

    @pipeline
    def call_dependency() -> None:
        time.sleep(CALL)

    elapsed = run_threads(8, call_dependency)
    # Serialised behind a lock they would take 8 x 50 ms = 400 ms; in parallel, ~50 ms.
    assert elapsed < 2 * CALL, f"8 x 50 ms calls took {elapsed * 1000:.0f} ms"


def test_bulkhead_max_wait_expires_in_real_time() -> None:
    bulkhead = seawall.Bulkhead("slow", max_concurrent=1, max_queue=1, max_wait=0.05)
    gate = threading.Event()
    holder = threading.Thread(target=bulkhead.call, args=(gate.wait, 5))
    holder.start()
    while bulkhead.statistics().in_flight == 0:
        time.sleep(0.001)
    start = time.perf_counter()
    with pytest.raises(seawall.BulkheadFull, match="timed out"):
        bulkhead.call(lambda: None)
    waited = time.perf_counter() - start
    gate.set()
    holder.join()
    assert 0.04 <= waited < 0.5
    assert bulkhead.statistics().in_flight == 0


def test_async_timeout_cancels_real_work_on_time() -> None:
    import asyncio

    async def main() -> float:
        start = time.perf_counter()
        with pytest.raises(seawall.DeadlineExceeded):
            await seawall.Timeout(0.05).acall(asyncio.sleep, 5)
        return time.perf_counter() - start

    elapsed = asyncio.run(main())
    assert 0.045 <= elapsed < 0.5


def test_bulkhead_under_thread_contention_never_exceeds_and_never_leaks() -> None:
    """16 threads x 1500 calls through 3 slots and a queue that can hold everyone."""
    bulkhead = seawall.Bulkhead("hot", max_concurrent=3, max_queue=16, max_wait=10.0)
    lock = threading.Lock()
    inside = peak = 0

    def work() -> None:
        nonlocal inside, peak
        with lock:
            inside += 1
            peak = max(peak, inside)
        time.sleep(0)  # let other threads interleave right here
        with lock:
            inside -= 1

    def hammer() -> None:
        for _ in range(1500):
            bulkhead.call(work)

    elapsed = run_threads(16, hammer)
    stats = bulkhead.statistics()
    assert peak <= 3
    assert (stats.in_flight, stats.queued, stats.rejected) == (0, 0, 0)
    assert elapsed < 60


def test_bulkhead_shared_by_threads_and_asyncio_tasks() -> None:
    import asyncio

    bulkhead = seawall.Bulkhead("mixed", max_concurrent=2, max_queue=64, max_wait=10.0)
    lock = threading.Lock()
    inside = peak = 0

    def enter() -> None:
        nonlocal inside, peak
        with lock:
            inside += 1
            peak = max(peak, inside)

    def leave() -> None:
        nonlocal inside
        with lock:
            inside -= 1

    def sync_work() -> None:
        enter()
        time.sleep(0.0005)
        leave()

    async def async_work() -> None:
        enter()
        await asyncio.sleep(0.0005)
        leave()

    async def tasks() -> None:
        await asyncio.gather(*(bulkhead.acall(async_work) for _ in range(30)))

    def threads() -> None:
        for _ in range(60):
            bulkhead.call(sync_work)

    workers = [threading.Thread(target=threads) for _ in range(4)]
    for w in workers:
        w.start()
    for _ in range(5):
        asyncio.run(tasks())
    for w in workers:
        w.join()
    stats = bulkhead.statistics()
    assert peak <= 2
    assert (stats.in_flight, stats.queued, stats.rejected) == (0, 0, 0)
