"""What every built-in scenario shares: its outcome, its configurations, its measures.

*Naive* is what a service gets without a resilience library: a 1 s timeout per attempt
and 3 attempts 100 ms apart, nothing else. *seawall* is ``standard(kind="rpc")`` built
with the world's clock and random stream. An :class:`Outcome` holds both runs of one
scenario on one seed, the figures its table shows and the verdict drawn from them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import seawall
from seawall.sim._result import Result
from seawall.sim._world import World

__all__ = [
    "MODES",
    "RATE",
    "Build",
    "Judge",
    "Outcome",
    "Run",
    "Scenario",
    "goodput_after",
    "goodput_before",
    "goodput_between",
    "naive",
    "no_world",
    "protected",
    "series",
    "success",
]

RATE = 0.1  # requests per second per client
MODES = ("naive", "seawall")


@dataclass(frozen=True, slots=True)
class Run:
    """One configuration's run: the table's figures and the plotted series.

    ``series`` rows are (interval start, requests sent, succeeded, failed) as the
    callers saw them; ``load`` is the load the scenario's deciding service saw per
    interval (arrivals).
    """

    mode: str
    metrics: dict[str, float]
    series: tuple[tuple[float, int, int, int], ...]
    load: tuple[int, ...]
    events: int
    requests: int
    wall: float


@dataclass(frozen=True, slots=True)
class Outcome:
    """Both runs of one scenario, and the verdict the scenario draws from them."""

    scenario: str
    title: str
    clients: int
    seed: int
    until: float
    window: tuple[float, float]
    runs: dict[str, Run]
    won: bool
    why: str
    labels: dict[str, str] = field(default_factory=dict)

    def table(self) -> list[tuple[str, str, str]]:
        """(metric, naive, seawall) rows, formatted."""
        naive, ours = self.runs["naive"].metrics, self.runs["seawall"].metrics
        return [(self.labels.get(key, key), _fmt(naive[key]), _fmt(ours[key])) for key in naive]

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "title": self.title,
            "clients": self.clients,
            "seed": self.seed,
            "until": self.until,
            "window": list(self.window),
            "won": self.won,
            "why": self.why,
            "runs": {
                mode: {
                    "metrics": run.metrics,
                    "events": run.events,
                    "requests": run.requests,
                    "wall_seconds": round(run.wall, 3),
                    "series": [list(row) for row in run.series],
                    "load": list(run.load),
                }
                for mode, run in self.runs.items()
            },
        }


def _fmt(value: float) -> str:
    if math.isnan(value):
        return "-"
    if value == int(value) and abs(value) < 1e12:
        return f"{int(value):,}"
    return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"


Build = Callable[[str, int, int], tuple[World, Callable[[Result], dict[str, float]], str]]
Judge = Callable[[dict[str, Run], tuple[float, float]], tuple[bool, str]]


@dataclass(frozen=True, slots=True)
class Scenario:
    """A named failure mode: how to build each configuration's world, and the verdict."""

    name: str
    title: str
    story: str
    until: float
    window: Callable[[float], tuple[float, float]]
    build: Build
    judge: Judge
    labels: dict[str, str]
    caller: str = "clients"
    deciding: str = ""  # the service whose load is plotted
    # A scenario that needs no world of services: (mode, clients, seed, until) -> metrics.
    direct: Callable[[str, int, int, float], dict[str, float]] | None = None


def no_world(mode: str, clients: int, seed: int) -> Any:
    raise AssertionError("this scenario runs without a world")


def naive(world: World) -> Any:
    """1 s per attempt, 3 attempts 100 ms apart, nothing else."""
    return seawall.Pipeline(
        seawall.Retry(3, backoff=seawall.Backoff.constant(0.1), clock=world.clock, rng=world.rng),
        seawall.Timeout(1.0, clock=world.clock),
    )


def protected(name: str, **overrides: Any) -> Callable[[World], Any]:
    """seawall's ``standard(kind="rpc")`` for one dependency, on the world's time."""

    def build(world: World) -> Any:
        return seawall.standard(name, kind="rpc", clock=world.clock, rng=world.rng, **overrides)

    return build


def success(result: Result, name: str = "clients") -> float:
    c = result.clients[name]
    answered = c.succeeded + c.failed
    return 100.0 * c.succeeded / answered if answered else math.nan


def series(result: Result, name: str) -> tuple[tuple[float, int, int, int], ...]:
    return tuple((r.start, r.sent, r.succeeded, r.failed) for r in result.clients[name].series)


def goodput_after(run: Run, start: float) -> float:
    """Percent of requests answered that succeeded, over intervals starting at ``start``."""
    ok = sum(row[2] for row in run.series if row[0] >= start - 1e-9)
    failed = sum(row[3] for row in run.series if row[0] >= start - 1e-9)
    return 100.0 * ok / (ok + failed) if ok + failed else 0.0


def goodput_before(run: Run, start: float) -> float:
    ok = sum(row[2] for row in run.series if row[0] < start)
    failed = sum(row[3] for row in run.series if row[0] < start)
    return 100.0 * ok / (ok + failed) if ok + failed else math.nan


def goodput_between(run: Run, start: float, end: float) -> float:
    rows = [row for row in run.series if start <= row[0] < end]
    ok, failed = sum(r[2] for r in rows), sum(r[3] for r in rows)
    return 100.0 * ok / (ok + failed) if ok + failed else math.nan
