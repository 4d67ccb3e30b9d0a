"""Two minutes of one-second samples per tile, and the view the dashboard page draws.

:class:`Sampler` is fed one snapshot per instance per second (:meth:`Sampler.record`),
keeps what each instance's counters said last, and stores the *differences*: summed
across instances, they are the tile's requests, failures, ... in that second, as
Hystrix's Turbine sums its instances' streams. An instance seen for the first time only
sets its baseline (its counters since process start are not one second's traffic); an
instance whose counters went backwards restarted, and counts from zero; an instance that
did not answer adds nothing that second and is listed with its error.

Gauges (breaker state, occupancy, budget use) come from the instances that answered:
the worst breaker state wins (one open instance makes the tile open), occupancy is
summed, budget use is the highest. :func:`view` turns the stored samples into what the
page draws: rolling counts and latency over the last ``window`` seconds, and the
request and error sparklines of the last ``size`` seconds. All of it is plain data on
readings and times, with no clock or I/O of its own.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from seawall.metrics._tiles import COUNTS, PRIORITIES, Reading, TileKey, quantile, tile_id

__all__ = ["MAX_TILES", "Sampler", "Second", "TileSecond", "view"]

# Worst first: the state a tile shows when its instances disagree.
_STATE_ORDER = ("open", "forced_open", "half_open", "closed", "metrics_only", "disabled")


@dataclass
class TileSecond:
    """One tile in one second: counter differences, latency bucket differences, gauges."""

    counts: dict[str, float] = field(default_factory=dict)
    latency: list[float] = field(default_factory=list)
    state: str | None = None
    open_remaining: float = 0.0
    states: dict[str, str] = field(default_factory=dict)
    bulkhead: list[float] | None = None
    shedder: tuple[float, float, dict[str, float]] | None = None
    budget: float | None = None
    requests: float = 0.0  # success + failure + rejected + shed
    errors: float = 0.0  # all but the successes


@dataclass(frozen=True)
class Second:
    """One sample: its time, each tile's :class:`TileSecond`, each instance's error."""

    time: float
    tiles: dict[TileKey, TileSecond]
    errors: dict[str, str | None]


class Sampler:
    """The last ``size`` one-second samples of every tile, from one or more instances.

    ``bounds`` are the latency histogram's bucket bounds (seconds), taken from the
    snapshots by the caller.
    """

    def __init__(self, *, size: int = 120) -> None:
        self.size = size
        self.seconds: deque[Second] = deque(maxlen=size)
        self.bounds: tuple[float, ...] = ()
        self._last: dict[str, dict[TileKey, Reading]] = {}

    def record(
        self,
        time: float,
        readings: Mapping[str, Mapping[TileKey, Reading] | str],
        bounds: tuple[float, ...] = (),
    ) -> Second:
        """Add the second at ``time``: per instance, its tiles or the error it gave."""
        if bounds:
            self.bounds = bounds
        tiles: dict[TileKey, TileSecond] = {}
        errors: dict[str, str | None] = {}
        for instance, seen in readings.items():
            if isinstance(seen, str):
                errors[instance] = seen
                continue
            errors[instance] = None
            before = self._last.get(instance, {})
            first = instance not in self._last
            for key, now in seen.items():
                tile = tiles.setdefault(key, TileSecond())
                _add(tile, instance, now, None if first else before.get(key, _EMPTY))
            self._last[instance] = dict(seen)
        for tile in tiles.values():
            tile.requests = _requests(tile.counts)
            tile.errors = tile.requests - tile.counts.get("success", 0.0)
        second = Second(time, tiles, errors)
        self.seconds.append(second)
        return second


_EMPTY = Reading(counters={})


def _difference(now: float, before: float | None) -> float:
    if before is None:
        return 0.0
    # A counter that went backwards belongs to a restarted process: it counts from zero.
    return now - before if now >= before else now


def _add(tile: TileSecond, instance: str, now: Reading, before: Reading | None) -> None:
    for name, value in now.counters.items():
        was = None if before is None else before.counters.get(name, 0.0)
        tile.counts[name] = tile.counts.get(name, 0.0) + _difference(value, was)
    if now.latency:
        if len(tile.latency) != len(now.latency):
            tile.latency = [0.0] * len(now.latency)
        was_latency = (
            before.latency
            if before is not None and len(before.latency) == len(now.latency)
            else None
        )
        for i, n in enumerate(now.latency):
            tile.latency[i] += _difference(n, None if was_latency is None else was_latency[i])
    if now.state is not None:
        tile.states[instance] = now.state
        if tile.state is None or _rank(now.state) < _rank(tile.state):
            tile.state, tile.open_remaining = now.state, now.open_remaining
        elif now.state == tile.state:
            tile.open_remaining = max(tile.open_remaining, now.open_remaining)
    if now.bulkhead is not None:
        tile.bulkhead = [
            a + b for a, b in zip(tile.bulkhead or [0.0, 0.0, 0.0], now.bulkhead, strict=True)
        ]
    if now.shedder is not None:
        limit, in_flight, queued = now.shedder
        if tile.shedder is None:
            tile.shedder = (limit, in_flight, dict(queued))
        else:
            old_limit, old_in_flight, old_queued = tile.shedder
            tile.shedder = (
                old_limit + limit,
                old_in_flight + in_flight,
                {p: old_queued.get(p, 0.0) + queued.get(p, 0.0) for p in PRIORITIES},
            )
    if now.budget is not None:
        tile.budget = max(tile.budget or 0.0, now.budget)


def _rank(state: str) -> int:
    return _STATE_ORDER.index(state) if state in _STATE_ORDER else len(_STATE_ORDER)


def _requests(counts: Mapping[str, float]) -> float:
    return sum(counts.get(name, 0.0) for name in ("success", "failure", "rejected", "shed"))


MAX_TILES = 100


def view(
    sampler: Sampler,
    *,
    window: int = 10,
    service: str | None = None,
    max_tiles: int = MAX_TILES,
) -> dict[str, Any]:
    """What the page draws, as JSON-able data (see docs/dashboard.md for each field).

    Rolling counts, rate, error % and latency cover the last ``window`` samples; the
    sparklines cover all ``size``, oldest first, padded at the front with nulls so every
    page draws two minutes on the same axis. At most ``max_tiles`` tiles are drawn: a
    breaker that is not closed first, then the busiest over the window (a page of a
    thousand tiles shows nothing); ``hidden`` counts the others.
    """
    seconds = list(sampler.seconds)
    n = len(seconds)
    recent_from = max(n - window, 0)
    everything: dict[TileKey, TileSecond] = {}
    for second in seconds:
        everything.update(second.tiles)
    # The window's sums for every tile (they choose which tiles are drawn) ...
    rolling: dict[TileKey, dict[str, float]] = {key: {} for key in everything}
    latency: dict[TileKey, list[float]] = {}
    for second in seconds[recent_from:]:
        for key, tile in second.tiles.items():
            sums = rolling[key]
            for name, count in tile.counts.items():
                sums[name] = sums.get(name, 0.0) + count
            if tile.latency:
                kept = latency.get(key)
                if kept is None or len(kept) != len(tile.latency):
                    latency[key] = list(tile.latency)
                else:
                    latency[key] = [a + b for a, b in zip(kept, tile.latency, strict=True)]
    latest = seconds[-1] if seconds else None
    now_tiles = latest.tiles if latest is not None else {}

    def urgency(key: TileKey) -> tuple[bool, float]:
        tile = now_tiles.get(key)
        troubled = tile is not None and tile.state not in (None, "closed", "disabled")
        return (not troubled, -_requests(rolling.get(key, {})))

    shown = sorted(everything, key=urgency)[:max_tiles]
    # ... and the sparklines of the drawn ones only.
    padding: list[float | None] = [None] * (sampler.size - n)
    spark: dict[TileKey, list[float | None]] = {key: list(padding) for key in shown}
    errors: dict[TileKey, list[float | None]] = {key: list(padding) for key in shown}
    for second in seconds:
        for key in shown:
            at = second.tiles.get(key)
            spark[key].append(at.requests if at is not None else 0.0)
            errors[key].append(at.errors if at is not None else 0.0)
    tiles = []
    for key in sorted(shown, key=lambda k: (k[0], k[1] or "")):
        sums = rolling.get(key, {})
        now = now_tiles.get(key)
        requests = _requests(sums)
        buckets = latency.get(key, [])
        tiles.append(
            {
                "id": tile_id(key),
                "name": key[0],
                "target": key[1],
                "rate": requests / max(n - recent_from, 1),
                "error_pct": 100.0 * (requests - sums.get("success", 0.0)) / requests
                if requests
                else 0.0,
                "counts": {name: sums.get(name, 0.0) for name in COUNTS},
                "shed_by_priority": {p: sums.get(f"shed.{p}", 0.0) for p in PRIORITIES},
                "retries": sums.get("retries", 0.0),
                "hedges": sums.get("hedges", 0.0),
                "p50": quantile(0.5, sampler.bounds, buckets),
                "p99": quantile(0.99, sampler.bounds, buckets),
                "state": now.state if now is not None else None,
                "open_remaining": now.open_remaining if now is not None else 0.0,
                "states": dict(now.states) if now is not None else {},
                "bulkhead": _bulkhead(now),
                "shedder": _shedder(now),
                "budget": now.budget if now is not None else None,
                "spark": spark[key],
                "spark_errors": errors[key],
            }
        )
    return {
        "version": 1,
        "service": service,
        "time": latest.time if latest is not None else None,
        "window": window,
        "size": sampler.size,
        "instances": dict(latest.errors) if latest is not None else {},
        "hidden": len(everything) - len(shown),
        "tiles": tiles,
    }


def _bulkhead(tile: TileSecond | None) -> dict[str, float] | None:
    if tile is None or tile.bulkhead is None:
        return None
    in_flight, queued, limit = tile.bulkhead
    return {"in_flight": in_flight, "queued": queued, "limit": limit}


def _shedder(tile: TileSecond | None) -> dict[str, Any] | None:
    if tile is None or tile.shedder is None:
        return None
    limit, in_flight, queued = tile.shedder
    return {"limit": limit, "in_flight": in_flight, "queued": queued}
