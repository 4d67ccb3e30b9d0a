"""Services calling services through seawall's real policies, on virtual time.

The retry code under test is ``seawall.Retry`` itself, built with the world's clock and
random stream: the counts below are what that code does, not what a model of it does.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import seawall
from seawall._errors import ConfigError
from seawall.sim import ServiceError, World, deterministic, exponential


def assert_littles_law(result: Any) -> None:
    """L = lambda_eff * W on every service, to 1 %."""
    for stats in result.services.values():
        assert stats.mean_in_system == pytest.approx(
            stats.throughput * stats.mean_response, rel=0.01
        )


def retries(attempts: int, delay: float | None = None) -> Any:
    """A factory of plain retries: no budget, breaker or deadline."""

    def build(world: World) -> seawall.Retry:
        backoff = None if delay is None else seawall.Backoff.constant(delay)
        return seawall.Retry(attempts, backoff=backoff, clock=world.clock, rng=world.rng)

    return build


def test_an_always_failing_leaf_behind_three_layers_of_four_attempts_gets_64_calls() -> None:
    world = World(seed=0)
    leaf = world.service("leaf", service_time=deterministic(0.001), error_rate=1.0)
    middle = world.service(
        "middle", service_time=deterministic(0.001), calls=leaf, policy=retries(4)
    )
    front = world.service(
        "front", service_time=deterministic(0.001), calls=middle, policy=retries(4)
    )
    # Default backoff (1 s, 2 s, 4 s, jittered): one request takes about 150 virtual
    # seconds, so three requests finish well before the horizon and a fourth never starts.
    world.clients(1, think_time=1_000.0, target=front, policy=retries(4))
    result = world.run(until=4_000.0)
    clients = result.clients["clients"]
    assert (clients.requests, clients.succeeded, clients.failed) == (3, 0, 3)
    assert result.services["leaf"].arrivals == 64 * 3  # 4 ** 3 per request
    assert result.services["middle"].arrivals == 16 * 3
    assert result.services["front"].arrivals == 4 * 3
    assert result.services["leaf"].failed == 64 * 3
    assert_littles_law(result)
    assert clients.mean_response > 100.0  # the backoff sleeps ran, on virtual time


def test_four_attempts_against_independent_failure_half_the_time() -> None:
    world = World(seed=1)
    leaf = world.service("leaf", servers=50, service_time=deterministic(0.001), error_rate=0.5)
    world.clients(400, think_time=exponential(1.0), target=leaf, policy=retries(4, delay=0.0))
    result = world.run(until=110.0)
    clients = result.clients["clients"]
    answered = clients.succeeded + clients.failed
    assert answered > 40_000
    calls = result.services["leaf"].arrivals
    assert calls / answered == pytest.approx(1 + 0.5 + 0.25 + 0.125, rel=0.01)
    assert clients.succeeded / answered == pytest.approx(1 - 0.5**4, rel=0.01)
    assert_littles_law(result)


def test_a_refusal_is_a_503_the_retry_sees_as_transient() -> None:
    world = World(seed=0)
    slow = world.service("slow", service_time=deterministic(50.0), queue_limit=0)
    world.clients(2, think_time=0.0, target=slow, policy=retries(3, delay=0.5))
    result = world.run(until=10.0)
    stats = result.services["slow"]
    # One client holds the only place; the other is refused, retried twice 0.5 s apart,
    # and gives up; then it tries again at once, and so on (the last one is cut off by
    # the horizon after fewer than three attempts).
    assert stats.admitted == 1
    assert 0 <= stats.rejected - result.clients["clients"].failed * 3 < 3
    assert seawall.transient(ServiceError("db", refused=True))
    assert ServiceError("db", refused=True).status_code == 503
    assert ServiceError("db", refused=False).status_code == 500


def test_a_timeout_on_virtual_time_cuts_a_slow_call_and_the_server_keeps_working() -> None:
    world = World(seed=0)
    slow = world.service("slow", service_time=deterministic(3.0))

    def timeout(world: World) -> seawall.Timeout:
        return seawall.Timeout(1.0, clock=world.clock)

    world.clients(1, think_time=10.0, target=slow, policy=timeout)
    result = world.run(until=35.0)
    clients = result.clients["clients"]
    assert (clients.requests, clients.failed) == (3, 3)
    assert clients.mean_response == pytest.approx(1.0, abs=0.01)
    assert result.services["slow"].completed == 3  # the caller left; the work went on


def test_each_calling_instance_gets_its_own_policy() -> None:
    built: list[World] = []

    def factory(world: World) -> seawall.Retry:
        built.append(world)
        return seawall.Retry(2, clock=world.clock, rng=world.rng)

    world = World(seed=0)
    leaf = world.service("leaf", service_time=deterministic(0.1))
    world.service("mid", servers=3, service_time=deterministic(0.1), calls=leaf, policy=factory)
    world.clients(5, think_time=1.0, target=leaf, policy=factory)
    assert built == [world] * 8


def test_the_world_clock_is_virtual_and_refuses_to_block() -> None:
    world = World(seed=0)
    seen: list[float] = []

    async def sleeper() -> None:
        await world.clock.asleep(2.5)
        seen.append(world.clock.now())

    world.service("idle", service_time=deterministic(1.0))
    world._loop.create_task(sleeper())
    world.run(until=5.0)
    assert seen == [2.5]
    with pytest.raises(RuntimeError, match="acall"):
        world.clock.sleep(1.0)


def test_topology_arguments_are_checked() -> None:
    world = World(seed=0)
    leaf = world.service("leaf", service_time=deterministic(0.1))
    with pytest.raises(ConfigError, match="calls nothing"):
        world.service("a", service_time=deterministic(0.1), policy=retries(2))
    with pytest.raises(ConfigError, match="calls must be a service of this world"):
        world.service("b", service_time=deterministic(0.1), calls="leaf")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="no acall"):
        world.service("c", service_time=deterministic(0.1), calls=leaf, policy=lambda w: 3)
    with pytest.raises(ConfigError, match="policy must be a function"):
        world.clients(1, think_time=1.0, target=leaf, policy=3)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="error_rate"):
        world.service("d", service_time=deterministic(0.1), error_rate=1.5)
    world.clients(1, think_time=1.0, target=leaf)
    with pytest.raises(ConfigError, match="not used by another group"):
        world.clients(1, think_time=1.0, target=leaf)


def test_simulated_code_that_breaks_the_loop_is_reported() -> None:
    world = World(seed=0)
    world.service("idle", service_time=deterministic(1.0))

    def broken() -> None:
        raise ValueError("bug in a callback")

    world._loop.call_later(1.0, broken)
    with pytest.raises(RuntimeError, match="simulated code failed"):
        world.run(until=2.0)
    assert asyncio._get_running_loop() is None


class Probe:
    """A pass-through policy that records the deadline in force at each call."""

    def __init__(self, seen: list[float | None]) -> None:
        self.seen = seen

    async def acall(self, fn: Any, *args: Any) -> Any:
        self.seen.append(seawall.remaining())
        return await fn(*args)


@pytest.mark.parametrize(
    ("client_timeout", "cap", "expected"),
    [
        (0.5009, None, 0.500 - 0.1),  # whole milliseconds, rounded down, cross the hop
        (0.5009, 0.25, 0.25 - 0.1),  # the callee caps what it is given
        (None, 0.3, 0.3 - 0.1),  # no deadline sent: the callee's own maximum applies
        (None, None, None),
    ],
)
def test_the_deadline_crosses_a_hop_as_whole_ms_capped_by_the_callee(
    client_timeout: float | None, cap: float | None, expected: float | None
) -> None:
    seen: list[float | None] = []
    world = World(seed=0)
    leaf = world.service("leaf", service_time=deterministic(0.01))
    front = world.service(
        "front",
        service_time=deterministic(0.1),
        calls=leaf,
        policy=lambda w: Probe(seen),
        max_deadline=cap,
    )

    def client(world: World) -> Any:
        if client_timeout is None:
            return Probe([])
        return seawall.Timeout(client_timeout, clock=world.clock)

    world.clients(1, think_time=10.0, target=front, policy=client)
    result = world.run(until=15.0)
    assert result.clients["clients"].succeeded == 1
    assert len(seen) == 1
    if expected is None:
        assert seen == [None]
    else:
        assert seen[0] == pytest.approx(expected, abs=1e-9)


def test_a_callee_out_of_budget_fails_the_call_by_its_own_timeout() -> None:
    world = World(seed=0)
    leaf = world.service("leaf", service_time=deterministic(2.0))

    def rpc(world: World) -> seawall.Timeout:
        return seawall.Timeout(5.0, clock=world.clock)

    front = world.service("front", service_time=deterministic(0.1), calls=leaf, policy=rpc)

    def client(world: World) -> seawall.Timeout:
        return seawall.Timeout(1.0, clock=world.clock)

    world.clients(1, think_time=10.0, target=front, policy=client)
    result = world.run(until=15.0)
    # front's 5 s timeout is cut to the 1,000 ms the client sent: it gives up on the 2 s
    # leaf call 1 s after the request arrived (within the alarm's 5 ms), as does the client.
    assert result.services["front"].failed == 1
    assert result.services["front"].mean_response == pytest.approx(1.0, abs=0.006)
    assert result.clients["clients"].failed == 1


def standard_world(seed: int) -> Any:
    world = World(seed=seed)
    db = world.service("db", servers=4, service_time=exponential(mean=0.05), queue_limit=8)
    api = world.service(
        "api",
        servers=8,
        service_time=exponential(mean=0.01),
        calls=db,
        policy=lambda w: seawall.standard("db", kind="rpc", clock=w.clock, rng=w.rng),
    )
    world.clients(
        40,
        think_time=exponential(1.0),
        target=api,
        policy=lambda w: seawall.standard("api", kind="http", clock=w.clock, rng=w.rng),
    )
    return world.run(until=30.0)


def test_standard_pipelines_run_unchanged_and_deterministically() -> None:
    first, second = standard_world(3), standard_world(3)
    assert first == second
    clients = first.clients["clients"]
    assert clients.requests > 1_000
    assert clients.succeeded >= clients.requests - 40  # only those cut off by the horizon
    assert first.services["db"].arrivals >= clients.succeeded


def test_open_loop_load_through_a_policy_reports_its_requests() -> None:
    built: list[World] = []

    def factory(world: World) -> seawall.Retry:
        built.append(world)
        return seawall.Retry(4, backoff=seawall.Backoff.constant(0.0), clock=world.clock)

    world = World(seed=4)
    leaf = world.service("leaf", servers=20, service_time=deterministic(0.001), error_rate=0.5)
    world.load(leaf, rate=500.0, policy=factory, name="gateway")
    result = world.run(until=60.0)
    gateway = result.clients["gateway"]
    assert built == [world]  # one calling instance: the load's source
    answered = gateway.succeeded + gateway.failed
    assert answered == pytest.approx(30_000, rel=0.03)
    assert result.services["leaf"].arrivals / answered == pytest.approx(1.875, rel=0.02)
    assert_littles_law(result)
    other = World(seed=0)
    service = other.service("leaf", service_time=deterministic(0.001))
    with pytest.raises(ConfigError, match="not used by another group"):
        other.load(service, rate=1.0, policy=factory, name="")


@pytest.mark.parametrize("drop", [False, True])
def test_expired_work_is_dropped_only_when_asked(drop: bool) -> None:
    world = World(seed=0)
    leaf = world.service("leaf", service_time=deterministic(0.3), drop_expired=drop)

    def client(world: World) -> seawall.Timeout:
        return seawall.Timeout(0.5, clock=world.clock)

    # Three requests at t = 0; the leaf serves one per 0.3 s and each caller waits 0.5 s.
    world.clients(3, think_time=100.0, target=leaf, policy=client)
    result = world.run(until=101.0)
    stats = result.services["leaf"]
    callers = result.clients["clients"]
    assert (callers.succeeded, callers.failed) == (1, 2)
    if drop:
        # The third request reaches the server at 0.6 s, after its caller left at 0.5 s.
        assert (stats.dropped, stats.completed, stats.failed) == (1, 3, 1)
        assert stats.utilization == pytest.approx(0.6 / 101.0)
    else:
        assert (stats.dropped, stats.completed, stats.failed) == (0, 3, 0)
        assert stats.utilization == pytest.approx(0.9 / 101.0)
    assert_littles_law(result)


def test_the_series_counts_open_breakers_of_a_calling_service() -> None:
    world = World(seed=0)
    leaf = world.service("leaf", service_time=deterministic(0.01), error_rate=1.0)

    def breaker(world: World) -> seawall.Pipeline:
        return seawall.Pipeline(
            seawall.CircuitBreaker("leaf", min_calls=5, cooldown=1_000.0, clock=world.clock)
        )

    front = world.service(
        "front", servers=2, service_time=deterministic(0.01), calls=leaf, policy=breaker
    )
    world.clients(4, think_time=0.5, target=front)
    result = world.run(until=20.0, interval=10.0)
    first, last = result.services["front"].series
    assert (first.breakers_open, last.breakers_open) == (2, 2)
    assert last.offered > 0
    assert result.services["leaf"].arrivals == 10  # five calls per replica's breaker
    assert all(row.breakers_open == 0 for row in result.services["leaf"].series)


def test_partitioned_clients_wait_for_their_timeout_and_heal() -> None:
    world = World(seed=0)
    db = world.service("db", servers=10, service_time=deterministic(0.01))

    def timeout(world: World) -> seawall.Timeout:
        return seawall.Timeout(2.0, clock=world.clock)

    group = world.clients(30, think_time=1.0, target=db, policy=timeout)
    world.at(10.0, lambda: group.partition(1 / 3))
    world.at(20.0, group.heal)
    result = world.run(until=30.0)
    clients = result.clients["clients"]
    # Ten clients lose what they send in [10, 20): each waits its 2 s timeout, then thinks
    # 1 s, so each loses the requests it sends at about 10.1, 13.1, 16.1 and 19.1.
    assert clients.failed == 10 * 4
    assert result.services["db"].arrivals == clients.requests - clients.failed
    assert group.name == "clients"
    with pytest.raises(ConfigError, match="partition fraction"):
        group.partition(1.5)


def test_replicas_share_one_policy_among_their_threads() -> None:
    built: list[seawall.StandardPipeline] = []

    def factory(world: World) -> seawall.StandardPipeline:
        policy = seawall.standard("leaf", kind="rpc", clock=world.clock, rng=world.rng)
        built.append(policy)
        return policy

    world = World(seed=0)
    leaf = world.service("leaf", servers=4, service_time=deterministic(0.01))
    mid = world.service(
        "mid", servers=6, replicas=2, service_time=deterministic(0.01), calls=leaf, policy=factory
    )
    world.load(mid, rate=50.0)
    world.at(1.0, lambda: mid.resize(8))
    result = world.run(until=2.0)
    assert len(built) == 2  # two processes, not six threads (nor eight after the resize)
    assert sum(p.retry.attempts_original for p in built) == result.services["mid"].completed
    assert all(row.breakers_open == 0 for row in result.services["mid"].series)
    world = World(seed=0)
    leaf = world.service("leaf", service_time=deterministic(0.01))
    with pytest.raises(ConfigError, match="replicas"):
        world.service("mid", servers=2, replicas=3, service_time=deterministic(0.01), calls=leaf)


def test_a_service_that_ignores_deadlines_calls_downstream_without_one() -> None:
    seen: list[float | None] = []
    world = World(seed=0)
    leaf = world.service("leaf", service_time=deterministic(0.01))
    front = world.service(
        "front",
        service_time=deterministic(0.1),
        calls=leaf,
        policy=lambda w: Probe(seen),
        deadlines=False,
    )
    world.clients(
        1, think_time=10.0, target=front, policy=lambda w: seawall.Timeout(0.5, clock=w.clock)
    )
    world.run(until=15.0)
    assert seen == [None]
    with pytest.raises(ConfigError, match="deadlines"):
        World(seed=0).service("x", service_time=deterministic(0.1), deadlines=1)  # type: ignore[arg-type]


def test_simulated_calls_and_waits_never_ask_asyncio_for_the_running_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Asking costs a system call per request and per deadline; the world names its loop.
    asked: list[int] = []
    real = asyncio.get_running_loop

    def counting() -> asyncio.AbstractEventLoop:
        asked.append(1)
        return real()

    monkeypatch.setattr(asyncio, "get_running_loop", counting)
    monkeypatch.setattr(asyncio.events, "get_running_loop", counting)
    world = World(seed=0)
    leaf = world.service("leaf", servers=2, service_time=exponential(0.05), error_rate=0.3)
    gateway = world.service(
        "gateway",
        servers=4,
        service_time=deterministic(0.001),
        calls=leaf,
        policy=lambda w: seawall.standard("leaf", kind="rpc", clock=w.clock, rng=w.rng),
    )
    lost = world.clients(
        6,
        think_time=exponential(1.0),
        target=gateway,
        policy=lambda w: seawall.standard("gateway", kind="rpc", clock=w.clock, rng=w.rng),
    )
    world.at(5.0, lambda: lost.partition(0.5))
    result = world.run(until=20.0)
    assert result.clients["clients"].failed > 0  # timeouts, retries and partitions ran
    assert asked == []
