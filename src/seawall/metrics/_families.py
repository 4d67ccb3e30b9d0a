"""The metric table: every series seawall exposes, computed from one snapshot.

Both exporters (Prometheus and OpenTelemetry) read this one table, so their names,
units and labels cannot drift apart. Names are Prometheus's (base units, ``_total`` on
counters); OpenTelemetry takes the same name with dots and without ``_total``.

Two policies with the same labels (two pipelines both named ``payments``, or a client's
hosts past the target cap, all ``other``) add up: counters sum, and a state gauge
counts the policies in that state.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from seawall._snapshot import PRIORITIES, PolicySnapshot

__all__ = ["BREAKER_STATES", "TABLE", "Family", "Spec", "compute"]

BREAKER_STATES = ("closed", "open", "half_open", "forced_open", "disabled", "metrics_only")
Kind = Literal["counter", "gauge"]
_AUTOMATIC_STATES = frozenset({"closed", "open", "half_open"})
_AUTOMATIC = (
    ("closed", "open"),
    ("open", "half_open"),
    ("half_open", "closed"),
    ("half_open", "open"),
)


@dataclass(frozen=True, slots=True)
class Spec:
    """One metric: Prometheus name, type, help, unit and its labels beyond name/target."""

    name: str
    type: Kind
    help: str
    unit: str
    labels: tuple[str, ...] = ()


@dataclass(slots=True)
class Family:
    spec: Spec
    # (name, target, *extra label values) -> value
    samples: dict[tuple[str, ...], float] = field(default_factory=dict)

    def add(self, key: tuple[str, ...], value: float) -> None:
        self.samples[key] = self.samples.get(key, 0.0) + value


def _spec(name: str, type: Kind, help: str, unit: str = "1", *labels: str) -> Spec:
    return Spec(name, type, help, unit, labels)


TABLE: dict[str, Spec] = {
    s.name: s
    for s in (
        _spec(
            "seawall_retry_calls_total",
            "counter",
            "Calls through a retry, by outcome.",
            "{call}",
            "outcome",
        ),
        _spec(
            "seawall_retry_attempts_total",
            "counter",
            "Attempts a retry made, by type.",
            "{attempt}",
            "attempt_type",
        ),
        _spec(
            "seawall_retry_budget_utilization_ratio",
            "gauge",
            "Share of the retry budget spent in its window.",
        ),
        _spec(
            "seawall_hedge_won_total",
            "counter",
            "Hedged calls answered by a hedge rather than the original attempt.",
            "{call}",
        ),
        _spec(
            "seawall_hedge_refused_total",
            "counter",
            "Hedges not started, by reason (budget, deadline, pool).",
            "{attempt}",
            "reason",
        ),
        _spec(
            "seawall_hedge_losers_cancelled_total",
            "counter",
            "Attempts cancelled or abandoned because another answered first.",
            "{attempt}",
        ),
        _spec(
            "seawall_hedge_delay_seconds",
            "gauge",
            "Seconds a call now waits before its next hedge.",
            "s",
        ),
        _spec(
            "seawall_circuit_breaker_state",
            "gauge",
            "1 for the breaker's current state, 0 for the others.",
            "1",
            "state",
        ),
        _spec(
            "seawall_circuit_breaker_transitions_total",
            "counter",
            "Breaker state changes.",
            "{transition}",
            "from_state",
            "to_state",
        ),
        _spec(
            "seawall_circuit_breaker_calls_total",
            "counter",
            "Calls a breaker saw, by outcome.",
            "{call}",
            "outcome",
        ),
        _spec(
            "seawall_circuit_breaker_failure_rate_ratio",
            "gauge",
            "Failure rate of the breaker's window (absent below min_calls).",
        ),
        _spec(
            "seawall_bulkhead_in_flight", "gauge", "Calls running inside the bulkhead.", "{call}"
        ),
        _spec("seawall_bulkhead_queued", "gauge", "Calls waiting for a bulkhead slot.", "{call}"),
        _spec("seawall_bulkhead_limit", "gauge", "Bulkhead concurrency limit.", "{call}"),
        _spec(
            "seawall_bulkhead_rejections_total",
            "counter",
            "Calls a bulkhead refused, by reason.",
            "{call}",
            "reason",
        ),
        _spec("seawall_timeouts_total", "counter", "Calls that ran out of time.", "{call}"),
        _spec("seawall_fallbacks_total", "counter", "Calls answered by a fallback.", "{call}"),
        _spec(
            "seawall_load_shedder_requests_total",
            "counter",
            "Requests by priority and decision, each counted once.",
            "{request}",
            "priority",
            "decision",
        ),
        _spec(
            "seawall_load_shedder_limit", "gauge", "Load shedder concurrency limit.", "{request}"
        ),
        _spec(
            "seawall_load_shedder_in_flight",
            "gauge",
            "Requests running under the load shedder.",
            "{request}",
        ),
        _spec(
            "seawall_cache_requests_total",
            "counter",
            "Cache lookups by result.",
            "{request}",
            "result",
        ),
        _spec(
            "seawall_rate_limiter_requests_total",
            "counter",
            "Requests a rate limiter decided, by decision (never by key).",
            "{request}",
            "decision",
        ),
        _spec(
            "seawall_rate_limiter_store_errors_total",
            "counter",
            "Requests decided without the store because it failed.",
            "{request}",
        ),
        _spec("seawall_lease_leader", "gauge", "1 while this process holds the lease.", "1"),
        _spec(
            "seawall_lease_transitions_total",
            "counter",
            "Leadership terms started and ended here.",
            "{transition}",
        ),
    )
}


def compute(policies: Iterable[PolicySnapshot]) -> list[Family]:
    """Every family of :data:`TABLE`, with samples summed over equal label sets."""
    families = {name: Family(spec) for name, spec in TABLE.items()}
    samples = {name: family.samples for name, family in families.items()}

    def add(metric: str, base: tuple[str, str], value: float | None, *extra: str) -> None:
        if value is not None:
            into = samples[metric]
            key = (*base, *extra)
            into[key] = into.get(key, 0.0) + value

    for p in policies:
        base = (p.name, p.target or "")
        v: Any = p.values
        if p.kind == "circuit_breaker":
            # The automatic edges exist from the start, at 0, so increase() sees the first.
            for old, new in _AUTOMATIC:
                add("seawall_circuit_breaker_transitions_total", base, 0, old, new)
            for state in BREAKER_STATES:
                # An operator's state (forced_open, disabled, metrics_only) is a series
                # only while the breaker is in it: three series fewer per breaker.
                if state in _AUTOMATIC_STATES or v["state"] == state:
                    add("seawall_circuit_breaker_state", base, v["state"] == state, state)
            for t in v["transitions"]:
                add(
                    "seawall_circuit_breaker_transitions_total",
                    base,
                    t["count"],
                    t["from"],
                    t["to"],
                )
            for outcome, n in v["calls"].items():
                add("seawall_circuit_breaker_calls_total", base, n, outcome)
            add("seawall_circuit_breaker_failure_rate_ratio", base, v["failure_rate"])
        elif p.kind == "retry":
            for outcome, n in v["calls"].items():
                add("seawall_retry_calls_total", base, n, outcome)
            for kind in ("original", "retry"):  # a Retry never hedges
                add("seawall_retry_attempts_total", base, v["attempts"][kind], kind)
            add("seawall_retry_budget_utilization_ratio", base, v["budget_utilization"])
            add("seawall_timeouts_total", base, v["timeouts"])  # the operation's total
        elif p.kind == "hedge":
            # gRFC A6: a hedge takes the retry's place, so its calls and attempts are the
            # retry series, with attempt_type="hedge" for the copies it sent.
            for outcome, n in v["calls"].items():
                add("seawall_retry_calls_total", base, n, outcome)
            for kind in ("original", "hedge"):
                add("seawall_retry_attempts_total", base, v["attempts"][kind], kind)
            add("seawall_retry_budget_utilization_ratio", base, v["budget_utilization"])
            hedges = v["hedges"]
            add("seawall_hedge_won_total", base, hedges["won"])
            for reason, n in hedges["refused"].items():
                add("seawall_hedge_refused_total", base, n, reason)
            add("seawall_hedge_losers_cancelled_total", base, hedges["losers_cancelled"])
            add("seawall_hedge_delay_seconds", base, v["delay"])
        elif p.kind == "rate_limiter":
            for decision, n in v["requests"].items():
                add("seawall_rate_limiter_requests_total", base, n, decision)
            add("seawall_rate_limiter_store_errors_total", base, v["store_errors"])
        elif p.kind == "bulkhead":
            add("seawall_bulkhead_in_flight", base, v["in_flight"])
            add("seawall_bulkhead_queued", base, v["queued"])
            add("seawall_bulkhead_limit", base, v["limit"])
            for reason, n in v["rejections"].items():
                add("seawall_bulkhead_rejections_total", base, n, reason)
        elif p.kind == "timeout":
            add("seawall_timeouts_total", base, v["timeouts"])
        elif p.kind == "fallback":
            add("seawall_fallbacks_total", base, v["fallbacks"])
        elif p.kind == "load_shedder":
            for priority in PRIORITIES:
                for decision, n in v["requests"][priority].items():
                    add("seawall_load_shedder_requests_total", base, n, priority, decision)
            add("seawall_load_shedder_limit", base, v["limit"])
            add("seawall_load_shedder_in_flight", base, v["in_flight"])
        elif p.kind == "cache":
            for result, n in v["requests"].items():
                add("seawall_cache_requests_total", base, n, result)
        elif p.kind == "lease":
            add("seawall_lease_leader", base, v["leader"])
            add("seawall_lease_transitions_total", base, v["transitions"])
    return list(families.values())
