"""The world's public contract: services, load, clients, results, determinism, errors."""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import seawall
from seawall._errors import ConfigError
from seawall.sim import Result, World, deterministic, exponential, lognormal


def mm1(seed: int = 0, until: float = 2_000.0, **service: Any) -> Result:
    world = World(seed=seed)
    db = world.service("db", service_time=exponential(mean=1.0), **service)
    world.load(db, rate=0.5)
    return world.run(until=until)


def test_the_contract_of_the_issue_runs_and_reports_every_figure() -> None:
    world = World(seed=0)
    db = world.service("db", servers=10, service_time=exponential(mean=1.0), queue_limit=None)
    world.load(db, rate=8.0)
    result = world.run(until=5_000.0)
    s = result.services["db"]
    assert s.arrivals == s.admitted + s.rejected
    assert s.rejected == 0
    assert s.admitted - s.completed <= 40  # only those in the system at the end
    assert 0.78 < s.utilization < 0.82
    assert s.mean_response == pytest.approx(s.mean_wait + 1.0, abs=0.05)
    assert s.mean_in_system == pytest.approx(s.throughput * s.mean_response, rel=0.01)
    assert result.events >= 2 * s.completed
    assert (result.seed, result.until) == (0, 5_000.0)


def test_a_seed_fixes_the_run_and_another_seed_changes_it() -> None:
    assert mm1(seed=3) == mm1(seed=3)
    assert mm1(seed=3).services["db"].arrivals != mm1(seed=4).services["db"].arrivals


def test_adding_a_service_leaves_the_others_draws_unchanged() -> None:
    alone = mm1(seed=5).services["db"]
    world = World(seed=5)
    other = world.service("cache", service_time=lognormal(mean=0.1, sigma=1.0))
    db = world.service("db", service_time=exponential(mean=1.0))
    world.clients(3, think_time=exponential(1.0), target=other)
    world.load(db, rate=0.5)
    beside = world.run(until=2_000.0).services["db"]
    assert beside == alone


def test_a_full_queue_refuses_at_once_and_k_counts_servers_plus_queue() -> None:
    world = World(seed=0)
    slow = world.service("slow", servers=2, service_time=deterministic(100.0), queue_limit=3)
    world.load(slow, rate=10.0)
    stats = world.run(until=50.0).services["slow"]
    assert stats.admitted == 5  # K = 2 + 3 places, none freed before t = 100
    assert stats.completed == 0
    assert stats.rejected == stats.arrivals - 5
    assert math.isnan(stats.mean_response)
    assert stats.series[-1].queue_length == 3
    assert stats.utilization == pytest.approx(1.0, abs=0.02)


def test_queue_limit_zero_is_a_loss_system() -> None:
    stats = mm1(queue_limit=0).services["db"]
    assert stats.delayed == 0
    assert stats.mean_wait == 0
    assert stats.rejected > 0


def test_closed_loop_clients_wait_for_answers_before_thinking_again() -> None:
    world = World(seed=0)
    db = world.service("db", servers=1, service_time=deterministic(1.0))
    world.clients(4, think_time=2.0, target=db)
    stats = world.run(until=100.0, interval=10.0).services["db"]
    # Four clients, each cycle 2 s thinking + queueing + 1 s service: the one server is
    # the bottleneck and works all the time after the first 2 s.
    assert stats.completed == 98
    assert stats.utilization == pytest.approx(0.98)
    assert stats.rejected == 0
    assert stats.mean_in_system <= 4


def test_the_series_adds_up_to_the_totals() -> None:
    world = World(seed=2)
    db = world.service("db", servers=2, service_time=exponential(1.0), queue_limit=2)
    world.load(db, rate=2.5)
    stats = world.run(until=1_000.0, interval=30.0).services["db"]
    rows = stats.series
    assert len(rows) == 34
    assert rows[0].start == 0.0
    assert rows[-1].end == 1_000.0
    assert all(a.end == b.start for a, b in itertools.pairwise(rows))
    assert sum(r.offered for r in rows) == stats.arrivals
    assert sum(r.admitted for r in rows) == stats.admitted
    assert sum(r.goodput for r in rows) == stats.completed
    assert sum(r.errors for r in rows) == stats.rejected
    assert sum(r.delayed for r in rows) == stats.delayed
    weighted = sum(r.mean_in_system * (r.end - r.start) for r in rows) / 1_000.0
    assert weighted == pytest.approx(stats.mean_in_system)
    for row in rows:
        assert row.p50 <= row.p99
        assert 0 <= row.queue_length <= 2


def test_default_interval_gives_a_hundred_rows() -> None:
    assert len(mm1().services["db"].series) == 100


BAD = [float("nan"), -1.0, True, "2", None]


@pytest.mark.parametrize("value", BAD)
def test_bad_arguments_are_config_errors_at_the_call(value: Any) -> None:
    world = World(seed=0)
    db = world.service("db", service_time=exponential(1.0))
    for call in (
        lambda: World(seed=value),
        lambda: world.service("x", servers=value, service_time=exponential(1.0)),
        lambda: world.service("x", service_time=exponential(1.0), queue_limit=value or -1),
        lambda: world.service("x", service_time=value),
        lambda: world.load(db, rate=value),
        lambda: world.clients(value, think_time=1.0, target=db),
        lambda: world.clients(1, think_time=value, target=db),
        lambda: world.run(until=value),
        lambda: world.run(until=10.0, interval=-1.0 if value is None else value),
    ):
        with pytest.raises(ConfigError):
            call()


def test_targets_and_names_are_checked() -> None:
    world = World(seed=0)
    world.service("db", service_time=exponential(1.0))
    elsewhere = World(seed=0).service("db", service_time=exponential(1.0))
    with pytest.raises(ConfigError, match="already a service named 'db'"):
        world.service("db", service_time=exponential(1.0))
    with pytest.raises(ConfigError, match="service of this world"):
        world.load(elsewhere, rate=1.0)
    with pytest.raises(ConfigError, match="service of this world"):
        world.clients(1, think_time=1.0, target="db")  # type: ignore[arg-type]
    for name in ("", None, 3):
        with pytest.raises(ConfigError, match="non-empty name"):
            world.service(name, service_time=exponential(1.0))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="servers must be >= 1"):
        world.service("none", servers=0, service_time=exponential(1.0))


def test_a_world_runs_once() -> None:
    world = World(seed=0)
    db = world.service("db", service_time=exponential(1.0))
    world.run(until=1.0)
    with pytest.raises(ConfigError, match="already run"):
        world.run(until=2.0)
    with pytest.raises(ConfigError, match="already run"):
        world.load(db, rate=1.0)


def test_a_load_that_would_never_finish_is_refused_before_it_runs() -> None:
    world = World(seed=0)
    db = world.service("db", servers=20, service_time=exponential(0.01), queue_limit=0)
    world.load(db, rate=3.16e16)  # 6e17 arrivals in 20 s: hours of events, not a simulation
    with pytest.raises(ConfigError, match=r"would offer about 6\.32e"):
        world.run(until=20.0)


values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-5, max_value=50),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=2),
)


@settings(max_examples=60, deadline=None)
@given(servers=values, queue_limit=values, rate=values, n=values, think=values, until=values)
def test_any_arguments_build_a_world_that_runs_or_raise_config_error(
    servers: Any, queue_limit: Any, rate: Any, n: Any, think: Any, until: Any
) -> None:
    world = World(seed=0)
    try:
        db = world.service(
            "db", servers=servers, service_time=exponential(0.01), queue_limit=queue_limit
        )
        world.load(db, rate=rate)
        world.clients(n, think_time=think, target=db)
        if isinstance(until, (int, float)) and not isinstance(until, bool) and until > 5:
            until = 5.0
        result = world.run(until=until)
    except ConfigError:
        return
    stats = result.services["db"]
    assert stats.arrivals == stats.admitted + stats.rejected


def test_a_timeline_step_changes_a_service_at_its_time() -> None:
    world = World(seed=0)
    db = world.service("db", servers=4, service_time=exponential(0.1))
    world.load(db, rate=10.0)
    world.at(10.0, lambda: setattr(db, "error_rate", 1.0))
    world.at(20.0, lambda: setattr(db, "error_rate", 0.0))
    rows = world.run(until=30.0, interval=1.0).services["db"].series
    assert all(row.errors == 0 for row in rows[:10])
    assert all(row.goodput == 0 and row.errors > 0 for row in rows[11:20])
    assert all(row.errors == 0 and row.goodput > 0 for row in rows[21:])
    with pytest.raises(ConfigError, match="when"):
        World(seed=0).at(-1.0, lambda: None)
    with pytest.raises(ConfigError, match="callable"):
        World(seed=0).at(1.0, "later")  # type: ignore[arg-type]


def test_a_capacity_drop_queues_work_and_its_recovery_drains_it() -> None:
    world = World(seed=0)
    db = world.service("db", servers=4, service_time=deterministic(1.0))
    world.clients(4, think_time=0.0, target=db)
    world.at(10.0, lambda: db.resize(1))
    world.at(20.0, lambda: db.resize(4))
    stats = world.run(until=30.0, interval=10.0).services["db"]
    before, during, after = stats.series
    assert (before.goodput, during.goodput, after.goodput) == (40, 10, 40)
    assert during.mean_queue_length == pytest.approx(3.0)
    assert after.queue_length == 0
    # Busy servers over server capacity: (40 + 10 + 40) s of work over 4*10 + 1*10 + 4*10.
    assert stats.utilization == pytest.approx(90.0 / 90.0)
    assert stats.mean_in_system == pytest.approx(stats.throughput * stats.mean_response)
    with pytest.raises(ConfigError, match="servers"):
        db.resize(0)


def test_growing_a_calling_service_builds_policies_for_the_new_replicas() -> None:
    built: list[World] = []

    def factory(world: World) -> Any:
        built.append(world)
        return seawall.Retry(2, clock=world.clock, rng=world.rng)

    world = World(seed=0)
    leaf = world.service("leaf", servers=8, service_time=deterministic(0.5))
    front = world.service(
        "front", servers=1, service_time=deterministic(0.5), calls=leaf, policy=factory
    )
    world.clients(6, think_time=0.0, target=front)
    world.at(5.0, lambda: front.resize(3))
    stats = world.run(until=10.0, interval=5.0).services["front"]
    assert len(built) == 3
    first, second = stats.series
    assert first.goodput == 5  # one replica, 1 s per request
    assert second.goodput == 15  # three replicas


def test_a_slowdown_stretches_the_service_times_drawn_after_it() -> None:
    world = World(seed=0)
    db = world.service("db", service_time=deterministic(1.0))
    world.clients(1, think_time=0.0, target=db)
    world.at(10.5, lambda: db.slow_down(3.0))
    world.at(20.5, lambda: db.slow_down(1.0))
    rows = world.run(until=30.0, interval=10.0).services["db"].series
    # The request started at 10 keeps its 1 s; those started at 11, 14, 17 and 20 take 3 s.
    assert [row.goodput for row in rows] == [10, 4, 8]
    assert rows[1].p50 == 3.0
    assert rows[2].p50 == 1.0
    with pytest.raises(ConfigError, match="slowdown factor"):
        db.slow_down(0.0)


def test_interval_boundaries_leave_no_sliver_of_rounding_at_the_end() -> None:
    world = World(seed=0)
    world.service("db", service_time=exponential(0.01))
    rows = world.run(until=1.0, interval=0.1).services["db"].series
    assert len(rows) == 10  # adding 0.1 ten times gives 0.9999999999999999, not 1.0
    assert rows[-1].end == 1.0
    assert all(row.end - row.start > 0.09 for row in rows)


def test_start_sends_every_first_request_at_once_or_spreads_them() -> None:
    from seawall.sim import uniform

    for start, first_second in ((0.0, 100), (uniform(0.0, 10.0), None)):
        world = World(seed=0)
        db = world.service("db", servers=200, service_time=deterministic(0.001))
        world.clients(100, think_time=100.0, target=db, start=start)
        series = world.run(until=20.0, interval=1.0).clients["clients"].series
        if first_second is not None:
            assert series[0].sent == first_second
        else:
            assert max(row.sent for row in series) < 30
            assert sum(row.sent for row in series) == 100
    with pytest.raises(ConfigError):
        uniform(2.0, 1.0)
    assert uniform(1.0, 3.0).mean == 2.0


def test_the_client_series_adds_up_to_the_totals() -> None:
    world = World(seed=1)
    db = world.service("db", servers=2, service_time=exponential(0.5), queue_limit=1)
    world.clients(10, think_time=exponential(1.0), target=db)
    clients = world.run(until=50.0, interval=5.0).clients["clients"]
    assert len(clients.series) == 10
    assert sum(r.sent for r in clients.series) == clients.requests
    assert sum(r.succeeded for r in clients.series) == clients.succeeded
    assert sum(r.failed for r in clients.series) == clients.failed
    assert clients.failed > 0


def test_a_restart_loses_the_work_in_it_and_refuses_while_down() -> None:
    world = World(seed=0)
    db = world.service("db", servers=1, service_time=deterministic(1.0))
    world.clients(3, think_time=100.0, target=db, start=0.0)  # one served, two queued
    world.at(0.5, lambda: db.restart(2.0))
    late = world.clients(1, think_time=100.0, target=db, start=1.0, name="late")
    after = world.clients(1, think_time=100.0, target=db, start=3.0, name="after")
    result = world.run(until=10.0)
    stats = result.services["db"]
    assert result.clients["clients"].failed == 3  # the one in service and the two queued
    assert result.clients["late"].failed == 1  # refused while down
    assert stats.rejected == 1
    assert result.clients["after"].succeeded == 1  # up again, empty
    assert stats.mean_in_system == pytest.approx(stats.throughput * stats.mean_response)
    assert late.policies == (None,)
    assert after.name == "after"
    with pytest.raises(ConfigError):
        db.restart(-1.0)


def test_a_cache_flush_reaches_every_clients_cache_through_the_group() -> None:
    world = World(seed=0)
    config = world.service("config", servers=10, service_time=deterministic(0.01))

    def cached(w: World) -> seawall.Cache:
        return seawall.Cache(1_000.0, clock=w.clock, rng=w.rng, early_refresh=0.0)

    group = world.clients(20, think_time=1.0, target=config, policy=cached, start=0.0)

    def flush() -> None:
        for cache in group.policies:
            cache.invalidate((config,))  # the default key: the call's arguments

    world.at(5.5, flush)
    stats = world.run(until=10.0, interval=1.0).services["config"]
    assert [row.offered for row in stats.series] == [20, 0, 0, 0, 0, 0, 20, 0, 0, 0]


def test_a_finished_run_lets_go_of_its_pending_timers_and_queued_requests() -> None:
    # Freed at once by reference counting, not left for a full collection to scan.
    world = World(seed=0)
    db = world.service("db", servers=1, service_time=exponential(mean=1.0))
    world.load(db, rate=5.0)  # overloaded: the queue grows for the whole run
    result = world.run(until=20.0)
    assert result.services["db"].series[-1].queue_length > 10
    assert (world.engine.heap, list(world.engine.ready), len(db._queue)) == ([], [], 0)
