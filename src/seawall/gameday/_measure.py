"""What a game-day run measured, and how a pair of runs is judged.

Shopper side (from the load generators): success % of everything scheduled (a request
dropped, timed out or answered other than 200 is a failure), p50/p99 latency as the
shopper lived it — every answer from the merged HDR histograms, and every request that
got no answer at all counted at the full budget it waited — goodput, and *time to
recover*: from the end of
the fault until the first second after which every second is ≥ 95 % successful.

Downstream side (from the services' own counters): amplification — downstream calls per
shopper request — the catalog's calls and peak concurrency, and duplicate charges (ledger
rows beyond one per order).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from hdrh.histogram import HdrHistogram

from seawall.chaos import LoadResult

__all__ = ["METRICS", "Run", "judge", "measure"]

RECOVERED = 0.95


@dataclass(frozen=True)
class Run:
    gateway: str
    scheduled: int
    ok: int
    success: float
    p50_ms: float | None
    p99_ms: float | None
    goodput: float
    amplification: float
    catalog_calls: int
    catalog_peak: int
    duplicates: int
    charges: int
    recovery_s: float | None  # None: not recovered before the run ended
    series: tuple[tuple[int, int, int, float | None], ...]  # (second, sent, ok, p99 ms)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _merged(results: Sequence[LoadResult], budget: float) -> HdrHistogram | None:
    merged: HdrHistogram | None = None
    for result in results:
        histogram = HdrHistogram.decode(result.histogram)
        if merged is None:
            merged = histogram
        else:
            merged.add(histogram)
    unanswered = sum(sum(r.exceptions.values()) + r.dropped for r in results)
    if merged is not None and unanswered:
        merged.record_value(round(budget * 1_000_000), unanswered)  # microseconds
    return merged


def _percentile(histogram: HdrHistogram | None, q: float) -> float | None:
    if histogram is None or histogram.get_total_count() == 0:
        return None
    return round(float(histogram.get_value_at_percentile(q)) / 1000.0, 1)


def _series(results: Sequence[LoadResult]) -> list[tuple[int, int, int, float | None]]:
    by_second: dict[int, list[Any]] = {}
    for result in results:
        for s in result.series:
            row = by_second.setdefault(s.second, [0, 0, None])
            row[0] += s.sent + s.dropped
            row[1] += s.ok
            if s.p99_ms is not None:
                row[2] = s.p99_ms if row[2] is None else max(row[2], s.p99_ms)
    return [(sec, row[0], row[1], row[2]) for sec, row in sorted(by_second.items())]


def _recovery(
    series: Sequence[tuple[int, int, int, float | None]], fault_end: float
) -> float | None:
    """Seconds from the fault's end until every later second is ≥ 95 % successful."""
    after = [(sec, sent, ok) for sec, sent, ok, _ in series if sec + 1 > fault_end and sent]
    if not after:
        return 0.0
    healthy_from: int | None = None
    for sec, sent, ok in after:
        if ok / sent >= RECOVERED:
            healthy_from = sec if healthy_from is None else healthy_from
        else:
            healthy_from = None
    if healthy_from is None:
        return None
    return max(0.0, round(healthy_from - fault_end, 1))


def measure(
    gateway: str,
    results: Sequence[LoadResult],
    downstream: Mapping[str, Mapping[str, Any]],
    *,
    duration: float,
    window: tuple[float, float],
    budget: float,
) -> Run:
    scheduled = sum(r.scheduled for r in results)
    ok = sum(r.ok for r in results)
    sent = sum(r.sent for r in results)
    merged = _merged(results, budget)
    series = _series(results)
    calls = sum(int(d.get("requests", 0)) for d in downstream.values())
    payments = downstream.get("payments", {})
    return Run(
        gateway=gateway,
        scheduled=scheduled,
        ok=ok,
        success=round(100.0 * ok / scheduled, 2) if scheduled else 0.0,
        p50_ms=_percentile(merged, 50),
        p99_ms=_percentile(merged, 99),
        goodput=round(ok / duration, 1),
        amplification=round(calls / sent, 2) if sent else 0.0,
        catalog_calls=int(downstream.get("catalog", {}).get("requests", 0)),
        catalog_peak=int(downstream.get("catalog", {}).get("peak", 0)),
        duplicates=int(payments.get("duplicates", 0)),
        charges=int(payments.get("charges", 0)),
        recovery_s=_recovery(series, window[1]),
        series=tuple(series),
    )


# metric -> (label, higher is better)
METRICS: dict[str, tuple[str, bool]] = {
    "success": ("success %", True),
    "p50_ms": ("p50 ms", False),
    "p99": ("p99 ms", False),
    "goodput": ("goodput /s", True),
    "amplification": ("downstream calls per request", False),
    "catalog_calls": ("catalog calls", False),
    "catalog_peak": ("catalog peak concurrency", False),
    "duplicates": ("duplicate charges", False),
    "recovery": ("time to recover s", False),
}

_FIELD = {"p99": "p99_ms", "recovery": "recovery_s"}


def value(run: Run, metric: str) -> float:
    raw = getattr(run, _FIELD.get(metric, metric))
    if raw is None:  # no answer at all, or never recovered: the worst possible
        return math.inf
    return float(raw)


def judge(naive: Run, ours: Run, on: Sequence[str]) -> tuple[bool, str]:
    """Seawall wins when it is at least as good on every deciding metric and better on one."""
    better = worse = 0
    notes = []
    for metric in on:
        label, higher = METRICS[metric]
        a, b = value(naive, metric), value(ours, metric)
        if a == b:
            continue
        if (b > a) == higher:
            better += 1
        else:
            worse += 1
            notes.append(f"worse on {label}")
    if worse:
        return False, "; ".join(notes)
    if better:
        return True, "better on " + ", ".join(METRICS[m][0] for m in on)
    return False, "no difference on " + ", ".join(METRICS[m][0] for m in on)
