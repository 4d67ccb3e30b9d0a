"""Built-in scenarios: a naive configuration and seawall's on the same seeded faults.

Each scenario builds one world per configuration from the same seed, so both meet the
same arrivals, service times and fault timeline; only the callers' policies and the
services' deadline handling differ. *Naive* is what a service gets without a resilience
library: a 1 s timeout per attempt and 3 attempts 100 ms apart at every layer, no
budget, breaker or bulkhead, servers that ignore the caller's deadline and finish work
nobody waits for. *seawall* is ``standard(kind="rpc")`` built with the world's clock and
random stream at every layer, deadlines propagated, expired work dropped.

Sizes scale with ``clients`` (each client sends 0.1 requests/s), so a test can check a
verdict at a few hundred clients in seconds and the CLI can run it at 10,000.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import seawall
from seawall.sim._calls import ServiceError
from seawall.sim._distributions import deterministic, exponential, uniform
from seawall.sim._result import Result
from seawall.sim._scenario_kit import (
    MODES,
    RATE,
    Outcome,
    Run,
    Scenario,
    goodput_after,
    goodput_before,
    goodput_between,
    naive,
    no_world,
    protected,
    series,
    success,
)
from seawall.sim._world import World

__all__ = ["SCENARIOS", "Outcome", "Run", "Scenario", "run_scenario"]


# -- retry budgets at scale ---------------------------------------------------------------


def _amplification(mode: str, clients: int, seed: int) -> Any:
    world = World(seed=seed)

    # Both with a RetryBudget at every layer: "naive" has only its ratio and per-caller
    # floor (10 % plus 10 retries/s, max_tokens=None) and retries every failed answer,
    # whatever it says; "seawall" is the default budget, whose failure reserve lets each
    # caller start retrying only while it is above half, and whose refusals for a
    # dependency failing broadly are answered "do not retry" to the layers above.
    def retry(w: World) -> Any:
        if mode == "naive":
            budget = seawall.RetryBudget(clock=w.clock, max_tokens=None)
            return seawall.Retry(3, budget=budget, on=ServiceError, clock=w.clock, rng=w.rng)
        budget = seawall.RetryBudget(clock=w.clock)
        return seawall.Retry(3, budget=budget, clock=w.clock, rng=w.rng)

    replicas = max(1, min(10, clients // 10))
    fast = deterministic(0.001)
    leaf = world.service("leaf", servers=100, service_time=fast, error_rate=1.0)
    service = world.service(
        "service",
        servers=max(20, clients // 3),
        replicas=replicas,
        service_time=fast,
        calls=leaf,
        policy=retry,
    )
    gateway = world.service(
        "gateway",
        servers=max(40, clients // 2),
        replicas=replicas,
        service_time=fast,
        calls=service,
        policy=retry,
    )
    world.clients(clients, think_time=exponential(1 / RATE), target=gateway, policy=retry)

    def measure(result: Result) -> dict[str, float]:
        requests = result.clients["clients"].requests
        s = result.services
        return {
            "requests": requests,
            "gateway": s["gateway"].arrivals / requests,
            "service": s["service"].arrivals / s["gateway"].arrivals,
            "leaf": s["leaf"].arrivals / s["service"].arrivals,
            "amplification": s["leaf"].arrivals / requests,
        }

    return world, measure, "leaf"


def _judge_amplification(runs: dict[str, Run], window: tuple[float, float]) -> tuple[bool, str]:
    """At most the SRE book's 1.1x per layer over the three, and under half of naive's.

    Only the service right above the dead leaf retries, until its budget judges the leaf
    to be failing broadly; its "do not retry" then keeps the gateway and the clients
    from retrying at all.
    """
    ours, theirs = runs["seawall"].metrics, runs["naive"].metrics
    won = ours["service"] <= 1.1 and ours["leaf"] <= 1.1
    won = won and ours["amplification"] <= 1.1**3
    won = won and ours["amplification"] * 2 <= theirs["amplification"]
    return won, (
        f"leaf calls per request {ours['amplification']:.3f}x with the default budget at 3 "
        f"layers ({ours['gateway']:.3f}x at the clients' layer, "
        f"{ours['service'] * ours['leaf']:.3f}x below it) vs "
        f"{theirs['amplification']:.1f}x with the ratio and per-caller floor alone"
    )


# -- metastable retry storm ---------------------------------------------------------------


def _metastable(mode: str, clients: int, seed: int) -> Any:
    world = World(seed=seed)
    ours = mode == "seawall"
    offered = clients * RATE
    db_servers = max(2, round(clients / 200))  # each server serves 25 requests/s
    mean = db_servers / (offered / 0.8)  # rho = 0.8: sized for 1.25 x the offered load
    threads = max(50, clients // 2)
    # 100 requests/s per replica at every scale (10 replicas at 10,000 clients): what a
    # replica's policies see (a bulkhead's 64 slots busy, breaker windows filling) is the
    # same in a test of 1,000 clients as in the full run.
    replicas = max(1, min(10, clients // 1_000))
    common: dict[str, Any] = {"drop_expired": ours, "deadlines": ours}
    db = world.service("database", servers=db_servers, service_time=exponential(mean), **common)
    service = world.service(
        "service",
        servers=threads,
        replicas=replicas,
        service_time=deterministic(0.001),
        calls=db,
        policy=protected("database") if ours else naive,
        **common,
    )
    gateway = world.service(
        "gateway",
        servers=threads,
        replicas=replicas,
        service_time=deterministic(0.001),
        calls=service,
        policy=protected("service") if ours else naive,
        **common,
    )
    world.clients(
        clients,
        think_time=exponential(1 / RATE),
        target=gateway,
        policy=protected("gateway") if ours else naive,
    )
    start, end = _metastable_window(0.0)
    world.at(start, lambda: db.resize(max(1, db_servers // 2)))
    world.at(end, lambda: db.resize(db_servers))

    def measure(result: Result) -> dict[str, float]:
        run = Run(mode, {}, series(result, "clients"), (), 0, 0, 0.0)
        return {
            "success % before the fault": goodput_before(run, start),
            "success % during": goodput_between(run, start, end),
            "success % from 10 s after": goodput_after(run, end + 10.0),
            "success % in the last 30 s": goodput_after(run, result.until - 30.0),
            "database calls per request": result.services["database"].arrivals
            / max(1, result.clients["clients"].requests),
            "database requests dropped (deadline passed)": result.services["database"].dropped,
        }

    return world, measure, "database"


def _metastable_window(_: float) -> tuple[float, float]:
    return (30.0, 40.0)


def _judge_metastable(runs: dict[str, Run], window: tuple[float, float]) -> tuple[bool, str]:
    end = window[1]
    naive_rows = [r for r in runs["naive"].series if r[0] >= end]
    collapsed = all(r[2] < 0.1 * max(1, r[2] + r[3]) for r in naive_rows)
    recovered = runs["seawall"].metrics["success % from 10 s after"]
    won = collapsed and recovered >= 90.0
    return won, (
        f"after the capacity drop ends, naive {'stays' if collapsed else 'does not stay'} "
        f"below 10 % success in every interval (the sustaining effect); seawall answers "
        f"{recovered:.1f} % from 10 s after the trigger"
    )


# -- thundering herd ----------------------------------------------------------------------


def _herd(mode: str, clients: int, seed: int) -> Any:
    world = World(seed=seed)
    ours = mode == "seawall"
    servers = max(2, clients // 500)  # 200 loads/s each: 2,000/s at 10,000 instances
    config = world.service(
        "config",
        servers=servers,
        service_time=deterministic(0.005),
        queue_limit=max(10, clients // 20),
    )

    def cached(w: World) -> Any:
        cache = seawall.Cache(
            60.0,
            jitter=0.2 if ours else 0.0,
            early_refresh=1.0 if ours else 0.0,
            clock=w.clock,
            rng=w.rng,
        )
        if ours:
            return seawall.Pipeline(cache, protected("config")(w))
        return seawall.Pipeline(cache, naive(w))

    world.clients(
        clients,
        think_time=1.0,
        target=config,
        policy=cached,
        start=uniform(0.0, 10.0) if ours else 0.0,
    )

    def measure(result: Result) -> dict[str, float]:
        s = result.services["config"]
        return {
            "peak config loads per second": max(r.offered for r in s.series),
            "config loads": s.arrivals,
            "config refusals %": 100.0 * s.rejected / max(1, s.arrivals),
            "reads failed %": 100.0 - success(result),
        }

    return world, measure, "config"


def _judge_herd(runs: dict[str, Run], window: tuple[float, float]) -> tuple[bool, str]:
    n, o = runs["naive"].metrics, runs["seawall"].metrics
    peak_n, peak_o = n["peak config loads per second"], o["peak config loads per second"]
    won = peak_o * 3 <= peak_n and o["reads failed %"] < n["reads failed %"]
    return won, (
        f"peak load on the config service {peak_o:,.0f}/s vs {peak_n:,.0f}/s naive; "
        f"reads failed {o['reads failed %']:.2f} % vs {n['reads failed %']:.2f} %"
    )


# -- partition ----------------------------------------------------------------------------


def _partition(mode: str, clients: int, seed: int) -> Any:
    world = World(seed=seed)
    ours = mode == "seawall"
    api = world.service(
        "api",
        servers=max(10, clients // 50),
        service_time=exponential(0.01),
        drop_expired=ours,
        deadlines=ours,
    )

    def policy(w: World) -> Any:
        if not ours:
            return naive(w)
        return protected("api", fallback=seawall.Fallback(value="cached answer"))(w)

    cut = max(1, clients // 3)
    lost = world.clients(
        cut, think_time=exponential(1 / RATE), target=api, policy=policy, name="partitioned"
    )
    world.clients(clients - cut, think_time=exponential(1 / RATE), target=api, policy=policy)
    # Cut off from the start: the partitioned group's figures are all partitioned calls.
    world.at(0.0, lambda: lost.partition(1.0))

    def measure(result: Result) -> dict[str, float]:
        p = result.clients["partitioned"]
        return {
            "time to answer, partitioned (s)": p.mean_response,
            "success incl. fallback %, partitioned": success(result, "partitioned"),
            "success %, the rest": success(result),
        }

    return world, measure, "api"


def _partition_window(until: float) -> tuple[float, float]:
    return (0.0, until)


def _judge_partition(runs: dict[str, Run], window: tuple[float, float]) -> tuple[bool, str]:
    n, o = runs["naive"].metrics, runs["seawall"].metrics
    t = "time to answer, partitioned (s)"
    s = "success incl. fallback %, partitioned"
    won = o[t] < n[t] and o[s] > n[s]
    return won, (
        f"partitioned clients get an answer in {o[t]:.2f} s vs {n[t]:.2f} s, "
        f"{o[s]:.1f} % of them a useful one (fallback) vs {n[s]:.1f} %"
    )


# -- bad deploy ---------------------------------------------------------------------------


def _bad_deploy(mode: str, clients: int, seed: int) -> Any:
    world = World(seed=seed)
    ours = mode == "seawall"
    # A request lands on a random replica: with 2 of 10 returning 500, each attempt fails
    # with probability 0.2, independently.
    api = world.service(
        "api",
        servers=max(10, clients // 50),
        service_time=exponential(0.01),
        drop_expired=ours,
        deadlines=ours,
    )
    gateway = world.service(
        "gateway",
        servers=max(20, clients // 20),
        replicas=10,
        service_time=deterministic(0.001),
        calls=api,
        policy=protected("api") if ours else naive,
        drop_expired=ours,
        deadlines=ours,
    )
    start, end = _deploy_window(0.0)
    world.at(start, lambda: setattr(api, "error_rate", 0.2))
    world.at(end, lambda: setattr(api, "error_rate", 0.0))
    world.clients(
        clients,
        think_time=exponential(1 / RATE),
        target=gateway,
        policy=protected("gateway") if ours else naive,
    )

    def measure(result: Result) -> dict[str, float]:
        s = result.services["api"]
        requests = max(1, result.clients["clients"].requests)
        return {
            "success %": success(result),
            "gateway calls per request": result.services["gateway"].arrivals / requests,
            "api calls per request": s.arrivals / requests,
        }

    return world, measure, "api"


def _deploy_window(_: float) -> tuple[float, float]:
    return (10.0, 50.0)


def _judge_bad_deploy(runs: dict[str, Run], window: tuple[float, float]) -> tuple[bool, str]:
    n, o = runs["naive"].metrics, runs["seawall"].metrics
    won = o["success %"] >= 99.0 and o["api calls per request"] <= n["api calls per request"]
    return won, (
        f"with a fifth of the replicas failing, seawall's retries route around them: "
        f"{o['success %']:.2f} % success vs {n['success %']:.2f} % naive, "
        f"{o['api calls per request']:.3f} vs {n['api calls per request']:.3f} calls per request"
    )


# -- slow downstream ----------------------------------------------------------------------


def _slow_downstream(mode: str, clients: int, seed: int) -> Any:
    world = World(seed=seed)
    ours = mode == "seawall"
    common: dict[str, Any] = {"drop_expired": ours, "deadlines": ours}
    # Two dependencies of 20 ms, each at a quarter of its capacity; one slows x20.
    each = max(2, clients // 250)
    recs = world.service("recommendations", servers=each, service_time=exponential(0.02), **common)
    db = world.service("orders-db", servers=each, service_time=exponential(0.02), **common)
    # One web application: replicas of 200 worker threads (a servlet container's
    # default) that both endpoints share, 500 requests/s per replica: enough that the
    # slow endpoint's calls alone, held for their 1 s attempt timeouts, would take every
    # thread, so what keeps the other endpoint up is a cap on the slow one's share.
    replicas = max(1, clients // 5_000)
    api = world.service(
        "api",
        servers=200 * replicas,
        replicas=replicas,
        service_time=deterministic(0.001),
        calls={"orders": db, "recommendations": recs},
        policy={"orders": protected("orders-db"), "recommendations": protected("recommendations")}
        if ours
        else naive,
        **common,
    )
    caller = protected("api") if ours else naive
    half = max(1, clients // 2)
    think = exponential(1 / RATE)
    world.clients(
        half, think_time=think, target=api.endpoints["orders"], policy=caller, name="orders"
    )
    world.clients(
        clients - half,
        think_time=think,
        target=api.endpoints["recommendations"],
        policy=caller,
        name="recommendations",
    )
    start, end = _slow_window(0.0)
    world.at(start, lambda: recs.slow_down(20.0))
    world.at(end, lambda: recs.slow_down(1.0))

    def measure(result: Result) -> dict[str, float]:
        orders = Run(mode, {}, series(result, "orders"), (), 0, 0, 0.0)
        recommendations = Run(mode, {}, series(result, "recommendations"), (), 0, 0, 0.0)
        during = [r for r in result.services["api"].series if start <= r.start < end]
        return {
            "orders success % before the slowdown": goodput_before(orders, start),
            "orders success % during (the unrelated endpoint)": goodput_between(orders, start, end),
            "recommendations success % during": goodput_between(recommendations, start, end),
            "orders success % after": goodput_after(orders, end),
            "api requests queued for a thread, peak": max(r.queue_length for r in during),
            "api calls per client request": result.services["api"].arrivals
            / max(1, sum(c.requests for c in result.clients.values())),
        }

    return world, measure, "api"


def _slow_window(_: float) -> tuple[float, float]:
    return (20.0, 60.0)


def _judge_slow_downstream(runs: dict[str, Run], window: tuple[float, float]) -> tuple[bool, str]:
    n, o = runs["naive"].metrics, runs["seawall"].metrics
    key = "orders success % during (the unrelated endpoint)"
    won = o[key] >= 99.0 and n[key] < 50.0
    return won, (
        f"while recommendations is 20x slower, the orders endpoint, which never calls it, "
        f"answers {o[key]:.1f} % with a bulkhead per dependency vs {n[key]:.1f} % naive, "
        f"whose shared worker threads all wait on recommendations"
    )


# -- split brain --------------------------------------------------------------------------


def _split_brain(mode: str, clients: int, seed: int, until: float) -> dict[str, float]:
    from seawall.gameday._split_brain import run_split_brain

    candidates = max(2, min(100, clients // 100))
    result = run_split_brain(seed=seed, duration=until, workers_per_side=candidates // 2)
    row = result.row("naive" if mode == "naive" else "lease + fencing")
    return {
        "candidates": result.workers,
        "partitions": result.partitions,
        "process pauses": result.pauses,
        "writes accepted": row.accepted,
        "stale writes rejected": row.rejected,
        "writes out of term order": row.conflicting,
        "seconds with two leaders acting": row.dual_leader_seconds,
        "terms": row.terms,
    }


def _judge_split_brain(runs: dict[str, Run], window: tuple[float, float]) -> tuple[bool, str]:
    n, o = runs["naive"].metrics, runs["seawall"].metrics
    order, dual = "writes out of term order", "seconds with two leaders acting"
    won = o[order] == 0 and o[dual] == 0 and n[order] > 0
    return won, (
        f"through {o['partitions']:.0f} partitions of {o['candidates']:.0f} candidates, "
        f"lease + fencing never had two leaders acting nor accepted a stale write; the "
        f"leader flag had two for {n[dual]:.2f} s and {n[order]:.0f} writes out of order"
    )


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "metastable",
            "Metastable retry storm",
            "clients -> gateway -> service -> database sized for 1.25x the load; the "
            "database loses half its capacity for 10 s, then gets it back.",
            120.0,
            _metastable_window,
            _metastable,
            _judge_metastable,
            {},
            deciding="database",
        ),
        Scenario(
            "amplification",
            "Retry budgets at scale",
            "the leaf fails every call for 60 s behind three layers that retry 3 times "
            "each, a RetryBudget at every layer: leaf calls per top-level request with "
            "the budget's ratio and per-caller floor alone, max_tokens=None, every failed "
            "answer retried (naive column), and with the default budget, its failure "
            'reserve and its "do not retry" answers (seawall column).',
            60.0,
            lambda _: (0.0, 60.0),
            _amplification,
            _judge_amplification,
            {
                "gateway": "gateway calls per request (client layer)",
                "service": "service calls per gateway call",
                "leaf": "leaf calls per service call",
                "amplification": "leaf calls per request",
            },
            deciding="leaf",
        ),
        Scenario(
            "herd",
            "Thundering herd",
            "every instance starts at once and caches its config for 60 s: fixed TTL "
            "and simultaneous start vs jittered TTL, early refresh, jittered start-up.",
            150.0,
            lambda _: (0.0, 10.0),
            _herd,
            _judge_herd,
            {},
            deciding="config",
        ),
        Scenario(
            "partition",
            "Partition",
            "a third of the clients are blackholed from the API for the whole run.",
            60.0,
            _partition_window,
            _partition,
            _judge_partition,
            {},
            deciding="api",
        ),
        Scenario(
            "slow-downstream",
            "Slow downstream",
            "an API whose orders and recommendations endpoints share 200 worker threads "
            "per replica; recommendations slows x20 for 40 s.",
            90.0,
            _slow_window,
            _slow_downstream,
            _judge_slow_downstream,
            {},
            caller="orders",
            deciding="api",
        ),
        Scenario(
            "split-brain",
            "Split brain",
            "candidates for one lease (seawall's real Election and fenced store, on "
            "virtual time) through repeated partitions from the lease store and process "
            "pauses: a leader flag vs lease + fencing tokens.",
            60.0,
            lambda until: (0.0, until),
            no_world,
            _judge_split_brain,
            {},
            direct=_split_brain,
        ),
        Scenario(
            "bad-deploy",
            "Bad deploy",
            "for 40 s, 2 of 10 replicas return 500 (each attempt fails with p = 0.2).",
            60.0,
            _deploy_window,
            _bad_deploy,
            _judge_bad_deploy,
            {},
            deciding="api",
        ),
    )
}


def run_scenario(name: str, clients: int, seed: int = 0, until: float | None = None) -> Outcome:
    """Run scenario ``name`` in both configurations on the same seed; judge the result."""
    scenario = SCENARIOS[name]
    horizon = scenario.until if until is None else until
    runs: dict[str, Run] = {}
    for mode in MODES:
        started = time.perf_counter()
        if scenario.direct is not None:
            metrics = scenario.direct(mode, clients, seed, horizon)
            runs[mode] = Run(mode, metrics, (), (), 0, 0, time.perf_counter() - started)
            continue
        world, measure, deciding = scenario.build(mode, clients, seed)
        result = world.run(horizon, interval=1.0)
        wall = time.perf_counter() - started
        load = tuple(r.offered for r in result.services[deciding].series)
        requests = sum(c.requests for c in result.clients.values())
        runs[mode] = Run(
            mode,
            measure(result),
            series(result, scenario.caller),
            load,
            result.events,
            requests,
            wall,
        )
    window = scenario.window(horizon)
    won, why = scenario.judge(runs, window)
    return Outcome(
        scenario=name,
        title=scenario.title,
        clients=clients,
        seed=seed,
        until=horizon,
        window=window,
        runs=runs,
        won=won,
        why=why,
        labels=scenario.labels,
    )


def names() -> Sequence[str]:
    return tuple(SCENARIOS)
