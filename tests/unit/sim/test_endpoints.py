"""Endpoints: one pool of servers, a dependency and a policy per endpoint."""

from __future__ import annotations

from typing import Any

import pytest

import seawall
from seawall._errors import ConfigError
from seawall.sim import Endpoint, World, deterministic


def test_endpoints_share_the_servers_and_each_calls_its_own_dependency() -> None:
    world = World(seed=0)
    slow = world.service("slow", servers=4, service_time=deterministic(10.0))
    fast = world.service("fast", servers=4, service_time=deterministic(0.1))
    api = world.service(
        "api", servers=1, service_time=deterministic(0.0), calls={"a": slow, "b": fast}
    )
    assert isinstance(api.endpoints["b"], Endpoint)
    world.clients(1, think_time=0.0, start=0.0, target=api.endpoints["a"], name="a")
    # The fast endpoint's first request arrives while the slow one holds the only server.
    b = world.clients(1, think_time=0.0, start=1.0, target=api.endpoints["b"], name="b")
    result = world.run(until=15.0, interval=15.0)
    assert b.name == "b"
    assert result.services["slow"].arrivals == 2
    assert result.services["slow"].completed == 1
    # b waited for the server until the slow call ended at 10 s, then alternates with a.
    assert result.services["fast"].arrivals == 1
    assert result.clients["b"].succeeded == 1
    assert result.clients["b"].mean_response == pytest.approx(9.1)


def test_each_replica_builds_a_policy_per_endpoint() -> None:
    built: list[str] = []

    def factory(name: str) -> Any:
        def build(world: World) -> Any:
            built.append(name)
            return seawall.CircuitBreaker(name, clock=world.clock)

        return build

    world = World(seed=0)
    a = world.service("a", service_time=deterministic(0.1))
    b = world.service("b", service_time=deterministic(0.1))
    api = world.service(
        "api",
        servers=4,
        replicas=2,
        service_time=deterministic(0.1),
        calls={"a": a, "b": b},
        policy={"a": factory("a"), "b": factory("b")},
    )
    assert sorted(built) == ["a", "a", "b", "b"]
    world.at(1.0, lambda: api.resize(6))
    result = world.run(until=2.0, interval=1.0)
    assert len(built) == 4  # replicas share their policies; none was added
    assert result.services["api"].series[-1].breakers_open == 0

    one = World(seed=0)
    leaf = one.service("leaf", service_time=deterministic(0.1))
    count: list[int] = []
    one.service(
        "api",
        servers=3,
        service_time=deterministic(0.1),
        calls={"x": leaf, "y": leaf},
        policy=lambda w: count.append(1) or seawall.Retry(2, clock=w.clock, rng=w.rng),
    )
    assert len(count) == 6  # one factory: an instance per endpoint per server


def test_an_open_breaker_on_one_endpoint_is_counted_by_its_service() -> None:
    world = World(seed=0)
    broken = world.service("broken", service_time=deterministic(0.01), error_rate=1.0)
    fine = world.service("fine", service_time=deterministic(0.01))

    def breaker(world: World) -> Any:
        return seawall.CircuitBreaker("dep", min_calls=3, cooldown=100.0, clock=world.clock)

    api = world.service(
        "api",
        servers=2,
        replicas=1,
        service_time=deterministic(0.01),
        calls={"broken": broken, "fine": fine},
        policy=breaker,
    )
    world.clients(2, think_time=0.1, target=api.endpoints["broken"], name="broken")
    world.clients(2, think_time=0.1, target=api.endpoints["fine"], name="fine")
    result = world.run(until=5.0, interval=5.0)
    assert result.services["api"].series[-1].breakers_open == 1
    assert result.clients["fine"].failed == 0
    assert result.clients["broken"].succeeded == 0


def test_bad_endpoints_are_config_errors() -> None:
    world = World(seed=0)
    leaf = world.service("leaf", service_time=deterministic(0.1))
    other = World(seed=0).service("leaf", service_time=deterministic(0.1))
    fast = deterministic(0.1)
    with pytest.raises(ConfigError, match="must map endpoint names to services"):
        world.service("a", service_time=fast, calls={})
    with pytest.raises(ConfigError, match="must map endpoint names to services"):
        world.service("b", service_time=fast, calls={3: leaf})  # type: ignore[dict-item]
    with pytest.raises(ConfigError, match=r"calls\['x'\] must be a service of this world"):
        world.service("c", service_time=fast, calls={"x": other})
    with pytest.raises(ConfigError, match="policies for \\['y'\\]"):
        world.service(
            "d", service_time=fast, calls={"x": leaf}, policy={"y": lambda w: seawall.Retry(2)}
        )
    with pytest.raises(ConfigError, match="pass one policy factory"):
        world.service("e", service_time=fast, calls=leaf, policy={"x": lambda w: seawall.Retry(2)})
    api = world.service("api", service_time=fast, calls={"x": leaf})
    with pytest.raises(ConfigError, match="calls must be a service of this world"):
        world.service("f", service_time=fast, calls=api.endpoints["x"])  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="service of this world"):
        World(seed=0).clients(1, think_time=1.0, target=api.endpoints["x"])
