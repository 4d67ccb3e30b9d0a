"""The world: services, the traffic that reaches them, and one virtual clock.

Everything random draws from a stream derived from the world's seed and the
component's name (``random.Random`` seeded with a string hashes it with SHA-512, so
the derivation does not depend on ``PYTHONHASHSEED``). Two runs with one seed are
identical, and adding a service leaves the draws of every other component unchanged.
"""

from __future__ import annotations

import math
import random
from collections.abc import Generator
from heapq import heappush
from typing import Any

from seawall._errors import ConfigError
from seawall.sim import _checks
from seawall.sim._distributions import Distribution, deterministic
from seawall.sim._engine import Engine, Signal
from seawall.sim._result import Result
from seawall.sim._service import Service

__all__ = ["World"]


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
        self._services: dict[str, Service] = {}
        self._sources: dict[str, int] = {}
        self._ran = False

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
    ) -> Service:
        """Add a service: ``servers`` identical servers and room for ``queue_limit`` waiting.

        ``queue_limit=None`` queues without bound; an int ``q`` gives K = servers + q
        places, and a request arriving to find them all taken is refused.
        """
        self._not_started()
        if not isinstance(name, str) or not name:
            raise ConfigError(f"a service needs a non-empty name, got {name!r}")
        if name in self._services:
            raise ConfigError(f"there is already a service named {name!r}")
        if not isinstance(service_time, Distribution):
            raise ConfigError(
                f"service_time must be a distribution such as sim.exponential(mean=0.01), "
                f"got {service_time!r}"
            )
        servers = _checks.count("servers", servers, minimum=1)
        if queue_limit is not None:
            queue_limit = _checks.count("queue_limit", queue_limit, minimum=0)
        service = Service(
            self.engine, name, servers, service_time, queue_limit, self._stream(f"service/{name}")
        )
        self._services[name] = service
        return service

    def load(self, target: Service, *, rate: float) -> None:
        """Open-loop Poisson arrivals at ``rate`` per virtual second.

        Open loop means arrivals do not wait for answers: a slow service does not slow its
        offered load, which is how traffic from many independent users behaves.
        """
        self._not_started()
        self._check_target(target)
        mean_gap = 1.0 / _checks.positive("rate", rate)
        uniform = self._source_stream("load", target).random
        log = math.log
        engine = self.engine
        heap = engine.heap
        seq = engine.seq
        submit = target.submit

        # One action per arrival, rescheduling itself: the exponential draw is inlined
        # because this runs once per request.
        def arrive(_: object) -> None:
            submit(None)
            heappush(heap, (engine.now - mean_gap * log(1.0 - uniform()), next(seq), arrive, None))

        engine.at(-mean_gap * log(1.0 - uniform()), arrive, None)

    def clients(self, n: int, *, think_time: Distribution | float, target: Service) -> None:
        """``n`` closed-loop clients: each thinks, sends one request, waits for it, repeats.

        A bare number is a fixed think time; pass ``sim.exponential(mean=...)`` for the
        classic finite-source model. A refused request sends its client back to thinking.
        """
        self._not_started()
        self._check_target(target)
        n = _checks.count("n", n, minimum=1)
        if not isinstance(think_time, Distribution):
            think_time = deterministic(_checks.non_negative("think_time", think_time))
        think = think_time.sampler(self._source_stream("clients", target))
        engine = self.engine
        for _ in range(n):
            engine.spawn(_client(engine, target, think))

    def run(self, until: float, *, interval: float | None = None) -> Result:
        """Run the world to virtual time ``until`` and report; a world runs once.

        ``interval`` is the width of one time-series row (default ``until / 100``).
        """
        self._not_started()
        horizon = _checks.positive("until", until)
        width = horizon / 100 if interval is None else _checks.positive("interval", interval)
        self._ran = True
        services = list(self._services.values())
        engine = self.engine
        # Boundaries are multiples of the width, not a running sum, so rounding never
        # leaves a sliver of an interval at the end.
        rows = max(1, math.ceil(horizon / width - 1e-9))
        start = 0.0
        for row in range(1, rows + 1):
            end = horizon if row == rows else row * width
            engine.run(end)
            for service in services:
                service.close_interval(start, end)
            start = end
        return Result(
            seed=self.seed,
            until=horizon,
            events=engine.events,
            services={service.name: service.stats(horizon) for service in services},
        )

    def _source_stream(self, kind: str, target: Service) -> random.Random:
        # Numbered per kind and target, so traffic added elsewhere shifts no stream here.
        label = f"{kind}/{target.name}"
        self._sources[label] = number = self._sources.get(label, 0) + 1
        return self._stream(f"{label}/{number}")

    def _check_target(self, target: object) -> None:
        if not isinstance(target, Service) or self._services.get(target.name) is not target:
            raise ConfigError(f"target must be a service of this world, got {target!r}")

    def _not_started(self) -> None:
        if self._ran:
            raise ConfigError("this world has already run; build a new World for another run")


def _client(engine: Engine, target: Service, think: Any) -> Generator[Any, Any, None]:
    submit = target.submit
    while True:
        yield think()
        answered = Signal(engine)
        if submit(answered.fire):
            yield answered
