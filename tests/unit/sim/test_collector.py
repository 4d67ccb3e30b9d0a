"""While a world runs, the cycle collector leaves the old objects alone, and only then."""

from __future__ import annotations

import gc
import threading

import pytest

from seawall.sim import World, deterministic, exponential
from seawall.sim._collector import YOUNG, sparse_collection


def test_a_run_collects_young_objects_sparsely_and_restores_the_schedule() -> None:
    before = gc.get_threshold()
    world = World(seed=0)
    db = world.service("db", servers=2, service_time=exponential(mean=0.5))
    world.load(db, rate=1.0)
    seen: list[tuple[int, ...]] = []
    world.at(5.0, lambda: seen.append(gc.get_threshold()))
    world.run(until=10.0)
    assert seen[0][0] == YOUNG
    assert seen[0][2] > 1_000_000  # the old generation: not collected while the run lasts
    assert gc.get_threshold() == before


def test_a_run_that_fails_still_restores_the_schedule() -> None:
    before = gc.get_threshold()
    world = World(seed=0)
    world.service("db", service_time=deterministic(1.0))

    def fail() -> None:
        raise ValueError("a timeline step failed")

    world.at(1.0, fail)
    with pytest.raises(ValueError, match="timeline step failed"):
        world.run(until=2.0)
    assert gc.get_threshold() == before


def test_runs_in_two_threads_restore_the_schedule_once_both_end() -> None:
    before = gc.get_threshold()
    entered, release = threading.Event(), threading.Event()

    def other() -> None:
        with sparse_collection():
            entered.set()
            release.wait(5.0)

    thread = threading.Thread(target=other)
    with sparse_collection():
        thread.start()
        assert entered.wait(5.0)
    # This thread's run is over, the other's is not: still sparse.
    assert gc.get_threshold()[0] == YOUNG
    release.set()
    thread.join(5.0)
    assert gc.get_threshold() == before


def test_collection_switched_off_by_a_zero_threshold_stays_off_during_a_run() -> None:
    before = gc.get_threshold()
    gc.set_threshold(0, *before[1:])
    try:
        with sparse_collection():
            assert gc.get_threshold()[0] == 0
        assert gc.get_threshold()[0] == 0
    finally:
        gc.set_threshold(*before)
