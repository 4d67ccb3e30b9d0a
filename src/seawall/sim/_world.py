"""The world: services, the traffic that reaches them, and one virtual clock.

Everything random draws from a stream derived from the world's seed and the
component's name (``random.Random`` seeded with a string hashes it with SHA-512, so
the derivation does not depend on ``PYTHONHASHSEED``). Two runs with one seed are
identical, and adding a service leaves the draws of every other component unchanged.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import math
import random
from collections.abc import Callable, Mapping
from heapq import heappush
from typing import Any

from seawall._errors import ConfigError
from seawall.sim import _checks
from seawall.sim._calls import bind, request
from seawall.sim._clock import WorldClock
from seawall.sim._collector import sparse_collection
from seawall.sim._distributions import Distribution, deterministic
from seawall.sim._engine import STALL, Engine
from seawall.sim._loop import VirtualLoop
from seawall.sim._result import ClientInterval, ClientStats, Result
from seawall.sim._service import Endpoint, Service

__all__ = ["ClientGroup", "PolicyFactory", "World"]

# Open-loop requests one run may be asked to offer: the 10,000-client scenarios offer
# about 10^5-10^6; a billion takes hours at the engine's speed.
MAX_ARRIVALS = 1e9
# Servers of one service, and clients of one group: each is an entry the world keeps in
# memory for the whole run, and the 1,000,000-client scenarios use half a million servers.
# Ten million is beyond what a run on one machine holds; a bigger number is a slip.
MAX_SERVERS = MAX_CLIENTS = 10_000_000
# Time-series rows of one run: a row per interval of every service is kept, and no plot
# shows a million points; more comes from an interval given in the wrong unit.
MAX_ROWS = 1_000_000

PolicyFactory = Callable[["World"], Any]
"""Builds one caller's policy from the world (its ``clock`` and ``rng``)."""


class World:
    """A seeded discrete-event world on virtual time.

    >>> from seawall import sim
    >>> world = sim.World(seed=0)
    >>> db = world.service("db", servers=10, service_time=sim.exponential(mean=1.0))
    >>> world.load(db, rate=8.0)
    >>> result = world.run(until=1_000.0)
    >>> 0.7 < result.services["db"].utilization < 0.9
    True
    """

    def __init__(self, seed: int = 0) -> None:
        self.seed = _checks.count("seed", seed, minimum=0)
        self.engine = Engine()
        self.rng = self._stream("world")
        # The loop has no I/O: its I/O methods stay abstract, never called.
        self._loop = VirtualLoop(self.engine)  # type: ignore[abstract]
        self.clock = WorldClock(self.engine, self._loop)
        self._services: dict[str, Service] = {}
        self._clients: dict[str, _Tally] = {}
        self._pending: list[
            tuple[Service | Endpoint, Callable[[], float], Callable[[], float], Any, _Tally, int]
        ] = []
        self._sources: dict[str, int] = {}
        self._ran = False
        self._open_rate = 0.0  # open-loop arrivals per virtual second, all loads together

    def __repr__(self) -> str:
        return f"World(seed={self.seed}, services={list(self._services)})"

    @property
    def now(self) -> float:
        """The current virtual time in seconds (0 before the run)."""
        return self.engine.now

    def _stream(self, label: str) -> random.Random:
        return random.Random(f"seawall.sim/{self.seed}/{label}")

    def service(
        self,
        name: str,
        *,
        servers: int = 1,
        service_time: Distribution,
        queue_limit: int | None = None,
        error_rate: float = 0.0,
        calls: Service | Mapping[str, Service] | None = None,
        policy: PolicyFactory | Mapping[str, PolicyFactory] | None = None,
        max_deadline: float | None = None,
        drop_expired: bool = False,
        replicas: int | None = None,
        deadlines: bool = True,
    ) -> Service:
        """Add a service: ``servers`` identical servers and room for ``queue_limit`` waiting.

        ``queue_limit=None`` queues without bound; an int ``q`` gives K = servers + q
        places, and a request arriving to find them all taken is refused.
        ``error_rate`` is the fraction of requests that end in an error after their
        service time (a leaf's 500s). With ``calls=other``, each request, after its own
        service time, calls ``other`` and holds its server until the answer comes (a
        thread per request); it fails if that call fails. ``policy`` builds what each
        call goes through: ``policy(world)`` is called once per server replica, and what
        it returns must have ``acall`` (any seawall policy or pipeline does). By default
        each server is a replica of its own; ``replicas=r`` groups the servers into ``r``
        processes of ``servers / r`` threads each, the threads of one process sharing its
        policy (one breaker, one retry budget), as a real process shares them.

        A calling service runs each request under a deadline: the caller's remaining
        budget, which crosses the hop as whole milliseconds, capped by ``max_deadline``
        seconds (the service's own maximum); the policy's timeouts derive from it.
        With ``drop_expired=True`` a request whose budget has run out while it queued is
        dropped when it reaches a server (a failure, counted in ``dropped``) instead of
        being served for a caller that has given up. ``deadlines=False`` makes a service
        that ignores the budget its callers send (it does not read the header): it works
        and calls downstream with no deadline but what its own policy sets.

        ``calls={"orders": db, "recommendations": recs}`` gives the service endpoints that
        share its servers and queue, each calling its own dependency, as the handlers of
        one web application share its worker threads: send requests to
        ``service.endpoints["orders"]``. ``policy`` is then one factory, built once per
        endpoint per replica, or a mapping with a factory per endpoint.
        """
        self._not_started()
        if not isinstance(name, str) or not name:
            raise ConfigError(f"a service needs a non-empty name, got {name!r}")
        if name in self._services:
            raise ConfigError(f"there is already a service named {name!r}")
        _check_distribution("service_time", service_time)
        servers = _checks.count("servers", servers, minimum=1, maximum=MAX_SERVERS)
        if queue_limit is not None:
            queue_limit = _checks.count("queue_limit", queue_limit, minimum=0)
        if max_deadline is not None:
            max_deadline = _checks.positive("max_deadline", max_deadline)
        if not isinstance(deadlines, bool):
            raise ConfigError(f"deadlines must be True or False, got {deadlines!r}")
        if not isinstance(drop_expired, bool):
            raise ConfigError(f"drop_expired must be True or False, got {drop_expired!r}")
        error_rate = _checks.non_negative("error_rate", error_rate)
        if error_rate > 1:
            raise ConfigError(f"error_rate must be within [0, 1], got {error_rate!r}")
        routes: dict[str, Service] | None = None
        if isinstance(calls, Mapping):
            routes = self._check_routes(name, calls, policy)
            calls = next(iter(routes.values()))
        elif calls is not None:
            self._check_target(calls, "calls")
            if isinstance(policy, Mapping):
                raise ConfigError(
                    f"service {name!r} calls one service: pass one policy factory, not a mapping"
                )
        elif policy is not None:
            raise ConfigError(f"service {name!r} has a policy but calls nothing: pass calls=")
        if replicas is not None:
            replicas = _checks.count("replicas", replicas, minimum=1)
            if replicas > servers:
                raise ConfigError(f"replicas={replicas} is more than servers={servers}")
        policies: list[Any] | None = None
        make: Callable[[], Any] | None = None
        if policy is not None:
            if routes is None:
                one: PolicyFactory = policy  # type: ignore[assignment]
                make_one: Callable[[], Any] = lambda: self._build(one, name)  # noqa: E731
            else:
                make_one = self._route_policies(name, routes, policy)
            built = [make_one() for _ in range(replicas or servers)]
            policies = [built[index % len(built)] for index in range(servers)]
            make = make_one if replicas is None else itertools.cycle(built).__next__
        service = Service(
            self.engine,
            name,
            servers,
            service_time,
            queue_limit,
            self._stream(f"service/{name}"),
            error_rate=error_rate,
            downstream=calls,
            policies=policies,
            make_policy=make,
            loop=self._loop,
            clock=self.clock,
            max_deadline=max_deadline,
            drop_expired=drop_expired,
            deadlines=deadlines,
            routes=routes,
        )
        self._services[name] = service
        return service

    def load(
        self,
        target: Service | Endpoint,
        *,
        rate: float,
        policy: PolicyFactory | None = None,
        name: str = "load",
    ) -> None:
        """Open-loop Poisson arrivals at ``rate`` per virtual second.

        Open loop means arrivals do not wait for answers: a slow service does not slow its
        offered load, which is how traffic from many independent users behaves. With
        ``policy``, each arrival is a request sent through what ``policy(world)`` built
        once for this load (one calling instance, as one gateway in front of the service
        would be), and the run reports the requests as ``result.clients[name]``.
        """
        self._not_started()
        self._check_target(target)
        if policy is None and (not isinstance(name, str) or not name):
            # With a policy the name is a client group's, checked as one below.
            raise ConfigError(f"a load needs a non-empty name, got {name!r}")
        mean_gap = 1.0 / _checks.positive("rate", rate)
        self._open_rate += float(rate)
        uniform = self._source_stream("load", target).random
        log = math.log
        engine = self.engine
        heap = engine.heap
        seq = engine.seq
        submit = target.submit
        arrive: Callable[[object], None]

        if policy is None:
            # One action per arrival, rescheduling itself: the exponential draw is inlined
            # because this runs once per request.
            def arrive(_: object) -> None:
                submit(None)
                heappush(
                    heap, (engine.now - mean_gap * log(1.0 - uniform()), next(seq), arrive, None)
                )

        else:
            self._check_group(name)
            built = self._build(policy, name)
            tally = self._clients[name] = _Tally(name, 1)
            spawn = self._loop.create_task
            runners: dict[Any, Any] = {}

            def arrive(_: object) -> None:
                call = _call(engine, target, built, tally, 0, runners)
                spawn(call, context=contextvars.Context())
                heappush(
                    heap, (engine.now - mean_gap * log(1.0 - uniform()), next(seq), arrive, None)
                )

        engine.at(-mean_gap * log(1.0 - uniform()), arrive, None)

    def clients(
        self,
        n: int,
        *,
        think_time: Distribution | float,
        target: Service | Endpoint,
        policy: PolicyFactory | None = None,
        name: str = "clients",
        start: Distribution | float | None = None,
    ) -> ClientGroup:
        """``n`` closed-loop clients: each thinks, sends one request, waits for it, repeats.

        A bare number is a fixed think time; pass ``sim.exponential(mean=...)`` for the
        classic finite-source model. A refused or failed request sends its client back to
        thinking. ``policy(world)`` is called once per client, and each of its requests
        goes through what it returns (``acall``). The run reports the group as
        ``result.clients[name]``. ``start`` is how long each client waits before its first
        request (default: one think time); ``0`` starts them all at once, as a fleet
        restarted together does, ``sim.uniform(0, 10)`` spreads a jittered start-up.
        """
        self._not_started()
        self._check_target(target)
        n = _checks.count("n", n, minimum=1, maximum=MAX_CLIENTS)
        self._check_group(name)
        if isinstance(think_time, Distribution):
            _check_distribution("think_time", think_time)
        else:
            think_time = deterministic(_checks.non_negative("think_time", think_time))
        think = think_time.sampler(self._source_stream("clients", target))
        first = think
        if start is not None:
            if isinstance(start, Distribution):
                _check_distribution("start", start)
            else:
                start = deterministic(_checks.non_negative("start", start))
            first = start.sampler(self._source_stream("start", target))
        policies = [None if policy is None else self._build(policy, name) for _ in range(n)]
        tally = self._clients[name] = _Tally(name, n)
        # The clients' tasks start when the world runs: a world built and never run then
        # leaves no coroutine behind unstarted.
        self._pending.extend(
            (target, think, first, built, tally, index) for index, built in enumerate(policies)
        )
        return ClientGroup(tally, tuple(policies))

    def at(self, when: float, action: Callable[[], object]) -> None:
        """Call ``action()`` at virtual time ``when``: a step of a fault timeline.

        For example ``world.at(60.0, lambda: setattr(db, "error_rate", 0.5))`` makes half
        of ``db``'s requests fail from the first minute on.
        """
        self._not_started()
        moment = _checks.non_negative("when", when)
        if not callable(action):
            raise ConfigError(f"action must be callable, got {action!r}")
        self.engine.at(moment, lambda _: action())

    def run(self, until: float, *, interval: float | None = None) -> Result:
        """Run the world to virtual time ``until`` and report; a world runs once.

        ``interval`` is the width of one time-series row (default ``until / 100``).
        """
        self._not_started()
        horizon = _checks.positive("until", until)
        expected = self._open_rate * horizon
        if expected > MAX_ARRIVALS:
            # A run of this size would not end in a lifetime: almost surely a unit slip
            # (a rate per millisecond given per second, say). Say so instead of hanging.
            raise ConfigError(
                f"the loads would offer about {expected:.3g} requests by until={horizon:g}"
                f" (at most {MAX_ARRIVALS:.0g} per run): lower a rate or until"
            )
        width = horizon / 100 if interval is None else _checks.positive("interval", interval)
        if horizon / width > MAX_ROWS:
            raise ConfigError(
                f"interval={width:g} cuts until={horizon:g} into {horizon / width:.3g} rows"
                f" (at most {MAX_ROWS:,}): widen the interval"
            )
        self._ran = True
        services = list(self._services.values())
        engine = self.engine
        # Boundaries are multiples of the width, not a running sum, so rounding never
        # leaves a sliver of an interval at the end.
        rows = max(1, math.ceil(horizon / width - 1e-9))
        start = 0.0
        loop = self._loop
        with sparse_collection():
            loop.enter()
            try:
                for target, think, first, policy, tally, index in self._pending:
                    coroutine = _client(engine, target, think, first, policy, tally, index)
                    loop.create_task(coroutine, context=contextvars.Context())
                # Legitimately busy instants grow with the model (every client starts at
                # t=0); a stuck one runs on without end.
                size = len(self._pending) + sum(getattr(s, "servers", 0) for s in services)
                stall = max(STALL, 100 * size)
                self._pending.clear()
                for row in range(1, rows + 1):
                    end = horizon if row == rows else row * width
                    engine.run(end, stall=stall)
                    for service in services:
                        service.close_interval(start, end)
                    for tally in self._clients.values():
                        tally.close_interval(start, end)
                    start = end
                result = Result(
                    seed=self.seed,
                    until=horizon,
                    events=engine.events,
                    services={service.name: service.stats(horizon) for service in services},
                    clients={name: tally.stats() for name, tally in self._clients.items()},
                )
                # The horizon cuts requests off mid-flight: cancel their tasks and let them
                # unwind now, so none is left half-run for the garbage collector to report.
                pending = asyncio.all_tasks(loop)
                for task in pending:
                    task.cancel()
                engine.run(horizon)
            finally:
                loop.leave()
                # A world runs once: what the horizon left pending (timers, queued
                # requests) is let go of now, so that reference counting frees it at
                # once. The world itself sits in reference cycles (its services and the
                # policy factories that close over it), and everything it held would
                # otherwise wait for a full collection to scan it: seconds, after a
                # run that left a long queue behind.
                engine.discard()
                self.clock.discard()
                for service in services:
                    service.discard()
        if loop.errors:
            context = loop.errors[0]
            raise RuntimeError(f"simulated code failed: {context.get('message')}") from context.get(
                "exception"
            )
        return result

    def _source_stream(self, kind: str, target: Service | Endpoint) -> random.Random:
        # Numbered per kind and target, so traffic added elsewhere shifts no stream here.
        label = f"{kind}/{target.name}"
        self._sources[label] = number = self._sources.get(label, 0) + 1
        return self._stream(f"{label}/{number}")

    def _check_routes(
        self, name: str, calls: Mapping[str, Service], policy: object
    ) -> dict[str, Service]:
        routes = dict(calls)
        if not routes or not all(isinstance(route, str) and route for route in routes):
            raise ConfigError(
                f"calls of service {name!r} must map endpoint names to services, got {calls!r}"
            )
        for route, target in routes.items():
            self._check_target(target, f"calls[{route!r}]")
        if isinstance(policy, Mapping) and set(policy) != set(routes):
            raise ConfigError(
                f"service {name!r} has endpoints {sorted(routes)} but policies for "
                f"{sorted(policy)}: give a policy factory for each endpoint"
            )
        return routes

    def _route_policies(
        self,
        name: str,
        routes: dict[str, Service],
        policy: PolicyFactory | Mapping[str, PolicyFactory],
    ) -> Callable[[], tuple[Any, ...]]:
        """What builds one replica's policies: one per endpoint, each its own instance."""
        factories = {
            route: policy[route] if isinstance(policy, Mapping) else policy for route in routes
        }
        return lambda: tuple(
            self._build(factory, f"{name}/{route}") for route, factory in factories.items()
        )

    def _check_target(self, target: object, argument: str = "target") -> None:
        if isinstance(target, Endpoint) and argument == "target":
            target = target.service
        if not isinstance(target, Service) or self._services.get(target.name) is not target:
            raise ConfigError(f"{argument} must be a service of this world, got {target!r}")

    def _check_group(self, name: object) -> None:
        if not isinstance(name, str) or not name or name in self._clients:
            raise ConfigError(f"clients need a name not used by another group, got {name!r}")

    def _build(self, factory: PolicyFactory, caller: str) -> Any:
        if not callable(factory):
            raise ConfigError(f"policy must be a function of the world, got {factory!r}")
        built = factory(self)
        if not callable(getattr(built, "acall", None)):
            raise ConfigError(
                f"the policy built for {caller!r} has no acall(): return a seawall policy "
                f"or pipeline, got {built!r}"
            )
        return built

    def _not_started(self) -> None:
        if self._ran:
            raise ConfigError("this world has already run; build a new World for another run")


def _check_distribution(argument: str, value: object) -> None:
    """A duration the world can draw from: a distribution that implements ``sampler``."""
    if not isinstance(value, Distribution):
        raise ConfigError(
            f"{argument} must be a distribution such as sim.exponential(mean=0.01), got {value!r}"
        )
    if type(value).sampler is Distribution.sampler or type(value).mean is Distribution.mean:
        raise ConfigError(
            f"{argument}: {type(value).__name__} does not define mean and sampler(); use "
            f"sim.exponential, sim.lognormal, ... or a Distribution subclass that does"
        )


class ClientGroup:
    """A group of closed-loop clients, to partition from their target and heal again."""

    __slots__ = ("_tally", "policies")

    def __init__(self, tally: _Tally, policies: tuple[Any, ...] = ()) -> None:
        self._tally = tally
        # What each client's policy factory built, in client order: a timeline step can
        # reach into them, e.g. to flush every client's cache at one instant.
        self.policies = policies

    def __repr__(self) -> str:
        return f"<ClientGroup {self._tally.name!r} of {self._tally.clients}>"

    @property
    def name(self) -> str:
        return self._tally.name

    def partition(self, fraction: float) -> None:
        """Blackhole the first ``fraction`` of the clients from their target, from now.

        Their requests are lost on the way: nothing reaches the service and no answer
        comes back, so each caller waits until its own timeout gives up (forever without
        one), as across a real network partition. Requests already sent are not affected.
        """
        share = _checks.non_negative("partition fraction", fraction)
        if share > 1:
            raise ConfigError(f"partition fraction must be within [0, 1], got {fraction!r}")
        self._tally.cut = round(self._tally.clients * share)

    def heal(self) -> None:
        """End the partition: requests sent from now on arrive again."""
        self._tally.cut = 0


class _Tally:
    """A client group's counters while the world runs."""

    __slots__ = (
        "clients",
        "cut",
        "failed",
        "marks",
        "name",
        "requests",
        "response_sum",
        "rows",
        "succeeded",
    )

    def __init__(self, name: str, clients: int) -> None:
        self.name = name
        self.clients = clients
        self.requests = self.succeeded = self.failed = 0
        self.response_sum = 0.0
        self.cut = 0  # clients with an index below this are partitioned from their target
        self.marks = (0, 0, 0)
        self.rows: list[ClientInterval] = []

    def close_interval(self, start: float, end: float) -> None:
        sent, ok, failed = self.marks
        self.rows.append(
            ClientInterval(
                start, end, self.requests - sent, self.succeeded - ok, self.failed - failed
            )
        )
        self.marks = (self.requests, self.succeeded, self.failed)

    def stats(self) -> ClientStats:
        answered = self.succeeded + self.failed
        return ClientStats(
            name=self.name,
            clients=self.clients,
            requests=self.requests,
            succeeded=self.succeeded,
            failed=self.failed,
            mean_response=self.response_sum / answered if answered else math.nan,
            series=tuple(self.rows),
        )


async def _call(
    engine: Engine,
    target: Service | Endpoint,
    policy: Any,
    tally: _Tally,
    index: int,
    runners: dict[Any, Any],
) -> None:
    tally.requests += 1
    sent = engine.now
    send = request if index >= tally.cut else _lost
    try:
        if policy is None:
            await send(target)
        else:
            run = runners.get(send)
            if run is None:
                run = runners[send] = bind(policy, send)
            await run(target)
    except Exception:
        tally.failed += 1
    else:
        tally.succeeded += 1
    tally.response_sum += engine.now - sent


async def _lost(service: Service | Endpoint) -> None:
    """A request into a partition: it never arrives and no answer ever comes back."""
    await asyncio.Future(loop=service.loop)


async def _client(
    engine: Engine,
    target: Service | Endpoint,
    think: Callable[[], float],
    first: Callable[[], float],
    policy: Any,
    tally: _Tally,
    index: int,
) -> None:
    runners: dict[Any, Any] = {}  # this client's policy around each way of sending
    loop = target.loop
    assert isinstance(loop, VirtualLoop)
    sleep = loop.sleep
    await sleep(first())
    await _call(engine, target, policy, tally, index, runners)
    while True:
        await sleep(think())
        await _call(engine, target, policy, tally, index, runners)
