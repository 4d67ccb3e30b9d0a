"""A simulated service: identical servers in front of one FIFO queue.

With exponential arrivals and service times this is exactly the M/M/c/K queue of the
textbooks (K = servers + queue_limit places, or unbounded), which is what lets the
simulator be checked against Erlang's formulas. A request that finds all K places taken
is refused at once, as a bounded queue or bulkhead refuses it in production.

The hot path is a callback per arrival and per departure, with no process per request:
that is what a request costs in a run of millions of them.
"""

from __future__ import annotations

import contextvars
import math
import random
from collections import deque
from collections.abc import Callable
from heapq import heappush
from typing import Any

from seawall._clock import SYSTEM_CLOCK, Clock
from seawall._deadline import Deadline, _current
from seawall._pipeline import Pipeline
from seawall._pushback import answered_spent
from seawall.policies._breaker import CircuitBreaker
from seawall.sim import _checks
from seawall.sim._calls import NO_RETRY, Answer, bind, request
from seawall.sim._distributions import Distribution
from seawall.sim._engine import Engine
from seawall.sim._loop import VirtualLoop
from seawall.sim._result import Interval, ServiceStats

__all__ = ["Done", "Endpoint", "Service"]

Done = Callable[[Answer], object]
"""Told ``True`` when the request completes, ``False`` or ``NO_RETRY`` when it failed
(refusals are returned by ``submit``)."""

_Job = tuple[float, float, "Done | None", "float | None"]
"""(arrival, start of service, whom to answer, deadline budget in seconds or None)."""


class Service:
    """Servers, a bounded or unbounded queue, and the counters theory is checked with.

    Build one with :meth:`World.service`; pass it as the ``target`` of load and clients.
    """

    __slots__ = (
        "_area",
        "_base_draw",
        "_breaker_ids",
        "_breakers",
        "_busy",
        "_capacity",
        "_clock",
        "_down_until",
        "_downstream",
        "_draw",
        "_engine",
        "_fail",
        "_heap",
        "_idle",
        "_last",
        "_loop",
        "_make_policy",
        "_mark",
        "_queue",
        "_queue_area",
        "_resized",
        "_responses",
        "_restarted",
        "_routes",
        "_runners",
        "_seq",
        "_series",
        "_server_seconds",
        "_size",
        "admitted",
        "arrivals",
        "completed",
        "deadlines",
        "delayed",
        "drop_expired",
        "dropped",
        "endpoints",
        "error_rate",
        "failed",
        "max_deadline",
        "name",
        "queue_limit",
        "rejected",
        "response_sum",
        "servers",
        "service_time",
        "slowdown",
        "wait_sum",
    )

    def __init__(
        self,
        engine: Engine,
        name: str,
        servers: int,
        service_time: Distribution,
        queue_limit: int | None,
        rng: random.Random,
        *,
        error_rate: float = 0.0,
        downstream: Service | None = None,
        policies: list[Any] | None = None,
        make_policy: Callable[[], Any] | None = None,
        loop: VirtualLoop | None = None,
        clock: Clock | None = None,
        max_deadline: float | None = None,
        drop_expired: bool = False,
        deadlines: bool = True,
        routes: dict[str, Service] | None = None,
    ) -> None:
        self.name = name
        self.servers = servers
        self.queue_limit = queue_limit
        self.service_time = service_time
        self._engine = engine
        self._heap = engine.heap
        self._seq = engine.seq
        self._capacity = math.inf if queue_limit is None else servers + queue_limit
        self._draw = self._base_draw = service_time.sampler(rng)
        self.slowdown = 1.0
        self.error_rate = error_rate
        self._fail = rng.random
        self._downstream = downstream
        # A service with endpoints: the dependency each endpoint calls, and the endpoints.
        routes = routes or {}
        self._routes: tuple[Service, ...] = tuple(routes.values())
        self.endpoints = {route: Endpoint(self, route, i) for i, route in enumerate(routes)}
        if routes:
            self._downstream = self._routes[0]
        # One policy per server replica: a replica takes one from here when it starts a
        # request and puts it back when done, so no two requests share one at once.
        self._idle: list[Any] = list(policies) if policies is not None else [None] * servers
        self._make_policy = make_policy
        # Each replica policy's driver around ``request``, built at its first call.
        self._runners: dict[int, tuple[Any, Callable[..., Any]]] = {}
        self._breakers: list[CircuitBreaker] = []
        self._breaker_ids: set[int] = set()
        for policy in policies or ():
            self._add_breakers(policy)
        self._loop = loop
        self._clock = clock
        self.max_deadline = max_deadline
        self.drop_expired = drop_expired
        self.deadlines = deadlines
        self._queue: deque[_Job] = deque()
        self._restarted = -math.inf  # work that arrived before this instant was lost
        self._down_until = -math.inf  # refuses every request until this instant
        self._size = 0  # requests in the system: in service plus queued
        self._busy = 0  # requests in service
        self._server_seconds = 0.0  # integral of the number of servers, up to _resized
        self._resized = 0.0
        self._last = 0.0
        self._area = 0.0  # integral of the number in the system over time
        self._queue_area = 0.0  # integral of the number waiting for a server
        self.arrivals = self.admitted = self.completed = self.rejected = self.delayed = 0
        self.failed = self.dropped = 0
        self.wait_sum = self.response_sum = 0.0
        self._responses: list[float] = []
        self._series: list[Interval] = []
        self._mark: tuple[float, ...] = (0,) * 10

    def __repr__(self) -> str:
        return f"<Service {self.name!r} servers={self.servers} queue_limit={self.queue_limit}>"

    @property
    def loop(self) -> VirtualLoop | None:
        """The world's event loop, on which a request to this service waits for its answer."""
        return self._loop

    def submit(self, done: Done | None, budget: float | None = None) -> bool:
        """A request arrives now; False if every place is taken and it is refused.

        ``budget`` is the time the caller allows it, in seconds, as it came off the wire.
        """
        # The bookkeeping is written out inline here and in _leave: these two run once
        # per request each, and a helper call would be a quarter of their cost.
        now = self._engine.now
        size = self._size
        busy = self._busy
        elapsed = now - self._last
        self._area += size * elapsed
        if size > busy:
            self._queue_area += (size - busy) * elapsed
        self._last = now
        self.arrivals += 1
        if size >= self._capacity or now < self._down_until:
            self.rejected += 1
            return False
        self.admitted += 1
        self._size = size + 1
        if busy < self.servers:
            self._busy = busy + 1
            if self._downstream is None:
                heappush(
                    self._heap,
                    (now + self._draw(), next(self._seq), self._leave, (now, now, done, budget)),
                )
            else:
                self._begin((now, now, done, budget))
        else:
            self._queue.append((now, 0.0, done, budget))
        return True

    def _leave(self, job: _Job, ok: Answer | None = None) -> None:
        """A request's service is over; ``ok=None`` (a leaf) draws its injected error.

        One function for both kinds of service, called straight from the event heap for
        a leaf: a departure is half of all the events of a run.
        """
        if ok is None:
            rate = self.error_rate
            ok = not rate or self._fail() >= rate
        if job[0] < self._restarted:
            ok = False  # its server restarted while it was in service: the answer is lost
        now = self._engine.now
        size = self._size
        busy = self._busy
        elapsed = now - self._last
        self._area += size * elapsed
        if size > busy:
            self._queue_area += (size - busy) * elapsed
        self._last = now
        self._size = size - 1
        self._busy = busy - 1
        arrival, start, done, _ = job
        response = now - arrival
        self.completed += 1
        if not ok:
            self.failed += 1
        self.response_sum += response
        self._responses.append(response)
        if start > arrival:
            self.delayed += 1
            self.wait_sum += start - arrival
        if size > busy and busy <= self.servers:
            if self.drop_expired:
                self._start_live(now)
            else:
                self._busy = busy
                arrival_next, _, done_next, budget_next = self._queue.popleft()
                started = (arrival_next, now, done_next, budget_next)
                if self._downstream is None:
                    heappush(
                        self._heap, (now + self._draw(), next(self._seq), self._leave, started)
                    )
                else:
                    self._begin(started)
        if done is not None:
            done(ok)

    def _start_live(self, now: float) -> None:
        """Start the first queued request whose caller still waits; drop the expired ones.

        A request whose deadline budget has run out by the time a server is free has a
        caller that gave up: serving it is wasted capacity, the work that keeps an
        overloaded service overloaded. It leaves as a failure, without service.
        """
        queue = self._queue
        while queue:
            arrival, _, done, budget = queue.popleft()
            if budget is not None and now - arrival >= budget:
                self._size -= 1
                self.dropped += 1
                self.completed += 1
                self.failed += 1
                response = now - arrival
                self.response_sum += response
                self._responses.append(response)
                if response > 0:
                    self.delayed += 1
                    self.wait_sum += response
                if done is not None:
                    done(False)
                continue
            self._busy += 1
            started = (arrival, now, done, budget)
            if self._downstream is None:
                heappush(self._heap, (now + self._draw(), next(self._seq), self._leave, started))
            else:
                self._begin(started)
            return

    def _begin(self, job: _Job) -> None:
        assert self._loop is not None
        # A fresh context: nothing of the caller's task (its deadline scope, its retry
        # attempt) leaks across the hop, as nothing crosses a real wire unless sent.
        self._loop.create_task(self._serve(job, self._idle.pop()), context=contextvars.Context())

    async def _serve(self, job: _Job, policy: Any) -> None:
        """Do this service's own work, then call downstream through the replica's policy.

        The whole of it runs under the request's deadline: the budget that came with it,
        capped by this service's own ``max_deadline``, as a server edge caps the header.
        """
        ok: Answer = True
        downstream = self._downstream
        call = policy
        if self._routes:
            # One pool of servers, a dependency (and a policy) per endpoint.
            done = job[2]
            route = done.route if type(done) is _Routed else 0
            downstream = self._routes[route]
            call = None if policy is None else policy[route]
        budget = job[3] if self.deadlines else None
        cap = self.max_deadline
        if cap is not None and (budget is None or cap < budget):
            budget = cap
        # ``with deadline(budget)``, opened directly: the budget is already a whole number
        # of milliseconds or a checked cap, and the task's context is fresh, so no scope
        # encloses this one and there is nothing to validate or to take the minimum of.
        token = None
        if budget is not None:
            clock = self._clock or SYSTEM_CLOCK
            token = _current.set(Deadline(clock.now() + budget, clock, budget))
        try:
            assert self._loop is not None
            await self._loop.sleep(self._draw())
            assert downstream is not None
            if call is None:
                await request(downstream)
            else:
                bound = self._runners.get(id(call))
                if bound is None or bound[0] is not call:
                    bound = self._runners[id(call)] = (call, bind(call, request))
                await bound[1](downstream)
        except Exception as exc:
            # Spent below (a refused retry, an answer that said so): say "do not retry".
            ok = NO_RETRY if answered_spent(exc) else False
        finally:
            if token is not None:
                _current.reset(token)
            self._idle.append(policy)
        self._leave(job, ok)

    def close_interval(self, start: float, end: float) -> None:
        """Append the time-series row for ``[start, end)``; the engine is at ``end``."""
        self._catch_up(end)
        now = self._counters()
        before = self._mark
        self._mark = now
        arrivals, admitted, completed, failed, rejected, delayed = (
            int(a - b) for a, b in zip(now[:6], before[:6], strict=True)
        )
        wait, response, area, queue_area = (a - b for a, b in zip(now[6:], before[6:], strict=True))
        responses = sorted(self._responses)
        self._responses = []
        self._series.append(
            Interval(
                start=start,
                end=end,
                offered=arrivals,
                admitted=admitted,
                goodput=completed - failed,
                errors=rejected + failed,
                delayed=delayed,
                mean_wait=wait / completed if completed else math.nan,
                mean_response=response / completed if completed else math.nan,
                p50=_percentile(responses, 0.50),
                p99=_percentile(responses, 0.99),
                mean_in_system=area / (end - start),
                mean_queue_length=queue_area / (end - start),
                queue_length=len(self._queue),
                breakers_open=sum(b.state != "closed" for b in self._breakers),
            )
        )

    def _counters(self) -> tuple[float, ...]:
        return (
            self.arrivals,
            self.admitted,
            self.completed,
            self.failed,
            self.rejected,
            self.delayed,
            self.wait_sum,
            self.response_sum,
            self._area,
            self._queue_area,
        )

    def _catch_up(self, now: float) -> None:
        size = self._size
        elapsed = now - self._last
        self._area += size * elapsed
        if size > self._busy:
            self._queue_area += (size - self._busy) * elapsed
        self._last = now

    def discard(self) -> None:
        """The run is over: let go of the requests still queued (their callers are gone)."""
        self._queue.clear()
        self._runners.clear()

    def restart(self, downtime: float) -> None:
        """Restart the service now: it is down for ``downtime`` seconds, then up, empty.

        Every request in it fails: queued ones at once, those in service when their
        service time ends (their servers stay occupied until then, as a process that
        is still shutting down does). While down it refuses every arrival (a 503, as a
        load balancer answers for a service with no ready replica).
        """
        downtime = _checks.non_negative("downtime", downtime)
        now = self._engine.now
        self._catch_up(now)
        self._restarted = now
        self._down_until = now + downtime
        queue = self._queue
        while queue:
            arrival, _, done, _ = queue.popleft()
            self._size -= 1
            self.completed += 1
            self.failed += 1
            response = now - arrival
            self.response_sum += response
            self._responses.append(response)
            if response > 0:
                self.delayed += 1
                self.wait_sum += response
            if done is not None:
                done(False)

    def slow_down(self, factor: float) -> None:
        """From now on, every service time drawn is ``factor`` times longer (1 restores).

        Requests already in service keep the time they drew: a slowdown (a GC storm, a
        noisy neighbour, a cold cache) hits work as it starts.
        """
        factor = _checks.positive("slowdown factor", factor)
        self.slowdown = factor
        base = self._base_draw
        self._draw = base if factor == 1.0 else lambda: base() * factor

    def resize(self, servers: int) -> None:
        """Change the number of servers now: a capacity drop, or its recovery.

        Fewer servers take effect as busy ones finish (work in progress is not lost);
        more start on the queue at once. K = servers + queue_limit follows.
        """
        servers = _checks.count("servers", servers, minimum=1)
        now = self._engine.now
        self._catch_up(now)
        self._server_seconds += self.servers * (now - self._resized)
        self._resized = now
        self.servers = servers
        if self.queue_limit is not None:
            self._capacity = servers + self.queue_limit
        while len(self._idle) + self._busy < servers:
            policy = None if self._make_policy is None else self._make_policy()
            self._idle.append(policy)
            self._add_breakers(policy)
        while self._queue and self._busy < servers:
            if self.drop_expired:
                self._start_live(now)
                continue
            arrival, _, done, budget = self._queue.popleft()
            self._busy += 1
            started = (arrival, now, done, budget)
            if self._downstream is None:
                heappush(self._heap, (now + self._draw(), next(self._seq), self._leave, started))
            else:
                self._begin(started)

    def _add_breakers(self, policy: Any) -> None:
        # Threads of one replica share its policy: count each breaker once.
        for breaker in _breakers_in(policy):
            if id(breaker) not in self._breaker_ids:
                self._breaker_ids.add(id(breaker))
                self._breakers.append(breaker)

    def stats(self, until: float) -> ServiceStats:
        """The totals over ``[0, until]`` (``until`` > 0); the engine's clock is at ``until``."""
        self._catch_up(until)
        completed = self.completed
        return ServiceStats(
            name=self.name,
            servers=self.servers,
            queue_limit=self.queue_limit,
            arrivals=self.arrivals,
            admitted=self.admitted,
            completed=completed,
            rejected=self.rejected,
            failed=self.failed,
            dropped=self.dropped,
            delayed=self.delayed,
            mean_wait=self.wait_sum / completed if completed else math.nan,
            mean_response=self.response_sum / completed if completed else math.nan,
            mean_in_system=self._area / until,
            mean_queue_length=self._queue_area / until,
            utilization=(self._area - self._queue_area)
            / (self._server_seconds + self.servers * (until - self._resized)),
            throughput=completed / until,
            series=tuple(self._series),
        )


def _breakers_in(policy: Any) -> list[CircuitBreaker]:
    """The circuit breakers in a replica's policy: itself, or the stages of a pipeline.

    A service with endpoints holds a tuple of policies per replica, one per endpoint.
    """
    if isinstance(policy, tuple):
        return [breaker for each in policy for breaker in _breakers_in(each)]
    if isinstance(policy, CircuitBreaker):
        return [policy]
    if isinstance(policy, Pipeline):
        return [stage for stage in policy.policies if isinstance(stage, CircuitBreaker)]
    return []


class Endpoint:
    """One endpoint of a service whose endpoints call different dependencies.

    Its requests share the service's servers and queue with every other endpoint's, as
    the handlers of one web application share its worker threads; each calls its own
    dependency through its own policy. Pass it as the ``target`` of clients or load.
    """

    __slots__ = ("name", "route", "service")

    def __init__(self, service: Service, name: str, route: int) -> None:
        self.service = service
        self.name = f"{service.name}/{name}"
        self.route = route

    def __repr__(self) -> str:
        return f"<Endpoint {self.name!r}>"

    @property
    def deadlines(self) -> bool:
        """Whether the service reads the deadline a request brings (see :class:`Service`)."""
        return self.service.deadlines

    @property
    def drop_expired(self) -> bool:
        return self.service.drop_expired

    @property
    def loop(self) -> VirtualLoop | None:
        return self.service.loop

    def submit(self, done: Done | None, budget: float | None = None) -> bool:
        """A request to this endpoint arrives now; False if the service refuses it."""
        return self.service.submit(_Routed(self.route, done), budget)


class _Routed:
    """An endpoint's answer callback, carrying which endpoint the request is for."""

    __slots__ = ("done", "route")

    def __init__(self, route: int, done: Done | None) -> None:
        self.route = route
        self.done = done

    def __call__(self, ok: Answer) -> object:
        return None if self.done is None else self.done(ok)


def _percentile(ordered: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list; NaN for no observations."""
    if not ordered:
        return math.nan
    rank = math.ceil(fraction * len(ordered))
    return ordered[max(rank, 1) - 1]
