"""A dependency's tile: what the dashboard reads from a ``/seawall`` snapshot.

A tile is one dependency: the policies sharing a ``(name, target)`` and the HTTP client
rows of the same client and target. :func:`readings` turns one snapshot (the JSON form of
:func:`seawall.snapshot`) into one :class:`Reading` per tile: counters that only grow, and
gauges read as they are. The dashboard then works with differences between one-second
readings (see :mod:`seawall.metrics._sampler`), so counters since process start become
rates, and a restarted process (its counters back at zero) counts from zero again.

The counts a tile shows, and where they come from:

- *success* and *failure*: the breaker's verdicts when the tile has a breaker (the
  outcome the dependency is judged on); otherwise the retry outcomes (a call that failed
  after its retries, or was refused a retry, is one failure), or a hedge's, which has
  the same outcomes; otherwise the client's
  responses (5xx and network errors fail); otherwise the shedder's admissions;
- *rejected*: calls the breaker or the bulkhead refused without calling the dependency;
- *shed*: requests the load shedder refused, at every priority;
- *timeout*, *fallback*: the Timeout and Fallback policies' counts. A timeout inside a
  breaker or retry is also one of their failures, so it is not added to the requests.

Requests are success + failure + rejected + shed; errors are all but the successes.
Unknown kinds and keys are ignored, so a newer snapshot still reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from seawall._priority import PRIORITY_RANK

__all__ = [
    "COUNTS",
    "PRIORITIES",
    "Reading",
    "TileKey",
    "quantile",
    "readings",
    "tile_id",
]

TileKey = tuple[str, str | None]
PRIORITIES = tuple(PRIORITY_RANK)
COUNTS = ("success", "failure", "timeout", "rejected", "shed", "fallback")
_KINDS = frozenset(
    {"circuit_breaker", "retry", "hedge", "bulkhead", "timeout", "fallback", "load_shedder"}
)


def tile_id(key: TileKey) -> str:
    """The tile's stable id on the page: ``name|target`` (``name|`` without a target)."""
    name, target = key
    return f"{name}|{target or ''}"


@dataclass(frozen=True)
class Reading:
    """One tile as one snapshot saw it.

    ``counters`` only grow (the :data:`COUNTS`, ``shed.<priority>``, ``retries``,
    ``hedges``);
    ``latency`` holds the client rows' per-bucket counts, also growing. The rest are
    gauges: the breaker's ``state`` and seconds until it half-opens, the bulkhead's
    ``(in_flight, queued, limit)``, the shedder's limit, in-flight and queue per
    priority, and the retry budget's utilisation (0..1).
    """

    counters: Mapping[str, float]
    latency: tuple[float, ...] = ()
    state: str | None = None
    open_remaining: float = 0.0
    bulkhead: tuple[float, float, float] | None = None
    shedder: tuple[float, float, Mapping[str, float]] | None = None
    budget: float | None = None
    kinds: frozenset[str] = field(default_factory=frozenset)


def _number(value: Any) -> float:
    """A count or gauge from the snapshot; anything that is not a number reads as 0."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    return float(value) if value == value else 0.0  # NaN reads as 0


def _get(mapping: Any, key: str) -> float:
    return _number(mapping.get(key)) if isinstance(mapping, Mapping) else 0.0


def _key(row: Mapping[str, Any]) -> TileKey | None:
    name, target = row.get("name"), row.get("target")
    if not isinstance(name, str) or not (target is None or isinstance(target, str)):
        return None
    return name, target or None


def _rows(value: Any) -> Iterable[Mapping[str, Any]]:
    if isinstance(value, list):
        return [row for row in value if isinstance(row, Mapping)]
    return ()


def readings(snapshot: Mapping[str, Any]) -> dict[TileKey, Reading]:
    """Every tile in one ``/seawall`` snapshot, by ``(name, target)``.

    Malformed parts (a row without a name, a count that is not a number) are skipped,
    not fatal: one odd instance must not blank the whole dashboard.
    """
    groups: dict[TileKey, dict[str, Mapping[str, Any]]] = {}
    for row in _rows(snapshot.get("policies")):
        key, kind = _key(row), row.get("kind")
        if key is not None and isinstance(kind, str) and kind in _KINDS:
            groups.setdefault(key, {}).setdefault(kind, row)
    http = snapshot.get("http")
    http = http if isinstance(http, Mapping) else {}
    bounds = buckets(http)
    clients: dict[TileKey, list[Mapping[str, Any]]] = {}
    for row in _rows(http.get("client")):
        key = _key(row)
        if key is not None:
            clients.setdefault(key, []).append(row)
            groups.setdefault(key, {})
    return {
        key: _reading(policies, clients.get(key, []), len(bounds) + 1)
        for key, policies in groups.items()
    }


def buckets(http: Mapping[str, Any]) -> tuple[float, ...]:
    """The snapshot's histogram bounds (seconds), or none if they are malformed."""
    bounds = http.get("buckets")
    if not isinstance(bounds, list) or not all(
        isinstance(b, int | float) and not isinstance(b, bool) for b in bounds
    ):
        return ()
    return tuple(float(b) for b in bounds)


def _reading(
    policies: Mapping[str, Mapping[str, Any]], clients: Sequence[Mapping[str, Any]], width: int
) -> Reading:
    counters = dict.fromkeys(COUNTS, 0.0)
    breaker, retry = policies.get("circuit_breaker"), policies.get("retry")
    hedge = policies.get("hedge")
    # A hedge takes the retry's place in a pipeline, and reports its calls the same way.
    retry = retry if retry is not None else hedge
    if breaker is not None:
        calls = breaker.get("calls")
        counters["success"] = _get(calls, "success")
        counters["failure"] = _get(calls, "failure")
        counters["rejected"] += _get(calls, "rejected")
    elif retry is not None:
        calls = retry.get("calls")
        counters["success"] = _get(calls, "success_first_try") + _get(calls, "success_after_retry")
        counters["failure"] = sum(
            _get(calls, outcome)
            for outcome in (
                "failed_after_retry",
                "not_retryable",
                "budget_refused",
                "deadline_refused",
            )
        )
    elif clients:
        for row in clients:
            status = row.get("status")
            failed = not isinstance(status, int) or status <= 0 or status >= 500
            counters["failure" if failed else "success"] += _number(row.get("count"))
    if retry is not None:
        counters["retries"] = _get(retry.get("attempts"), "retry")
    if hedge is not None:
        counters["hedges"] = _get(hedge.get("attempts"), "hedge")
    bulkhead = policies.get("bulkhead")
    occupancy = None
    if bulkhead is not None:
        rejections = bulkhead.get("rejections")
        counters["rejected"] += _get(rejections, "full") + _get(rejections, "queue_timeout")
        occupancy = (
            _get(bulkhead, "in_flight"),
            _get(bulkhead, "queued"),
            _get(bulkhead, "limit"),
        )
    shedder = policies.get("load_shedder")
    load = None
    if shedder is not None:
        requests, queued = shedder.get("requests"), shedder.get("queued")
        requests = requests if isinstance(requests, Mapping) else {}
        for level in PRIORITIES:
            shed = _get(requests.get(level), "shed")
            counters[f"shed.{level}"] = shed
            counters["shed"] += shed
            if breaker is None and retry is None and not clients:
                admitted = requests.get(level)
                counters["success"] += _get(admitted, "admitted") + _get(
                    admitted, "admitted_after_queue"
                )
        load = (
            _get(shedder, "limit"),
            _get(shedder, "in_flight"),
            {level: _get(queued, level) for level in PRIORITIES},
        )
    if "timeout" in policies:
        counters["timeout"] = _get(policies["timeout"], "timeouts")
    if "fallback" in policies:
        counters["fallback"] = _get(policies["fallback"], "fallbacks")
    latency = [0.0] * width
    for row in clients:
        counts = row.get("counts")
        if isinstance(counts, list) and len(counts) == width:
            for i, n in enumerate(counts):
                latency[i] += _number(n)
    state = breaker.get("state") if breaker is not None else None
    budget = retry.get("budget_utilization") if retry is not None else None
    return Reading(
        counters=counters,
        latency=tuple(latency),
        state=state if isinstance(state, str) else None,
        open_remaining=_get(breaker, "open_remaining") if breaker is not None else 0.0,
        bulkhead=occupancy,
        shedder=load,
        budget=_number(budget) if isinstance(budget, int | float) else None,
        kinds=frozenset(policies) | (frozenset({"http_client"}) if clients else frozenset()),
    )


def quantile(q: float, bounds: Sequence[float], counts: Sequence[float]) -> float | None:
    """The ``q`` quantile (seconds) of a histogram, as Prometheus' histogram_quantile.

    ``counts`` are per bucket (not cumulative), one more than ``bounds`` (the last is
    +Inf). Within a bucket the observations are taken as evenly spread; a quantile in the
    +Inf bucket reads as the largest finite bound. None without observations.
    """
    total = sum(counts)
    if total <= 0 or len(counts) != len(bounds) + 1:
        return None
    rank = q * total
    seen = 0.0
    for i, n in enumerate(counts):
        if n > 0 and seen + n >= rank:
            if i == len(bounds):
                return bounds[-1] if bounds else None
            lower = bounds[i - 1] if i > 0 else 0.0
            return lower + (bounds[i] - lower) * max(rank - seen, 0.0) / n
        seen += n
    return bounds[-1] if bounds else None
