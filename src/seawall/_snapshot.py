"""``seawall.snapshot()``: a frozen picture of every named policy in the process.

Each policy counts its own decisions in plain fields (see docs/time.md); this module
reads them, once, into immutable values: what a dashboard, a health page or a test
looks at, and what the Prometheus and OpenTelemetry collectors turn into series. Reading
takes each policy's own lock at most for as long as its ``statistics()`` does, and never
while a protected call runs.

Counters are cumulative since the policy was made: a reader takes differences between
two snapshots to get rates.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from seawall import _catalog
from seawall._priority import PRIORITY_RANK
from seawall.policies._base import Policy
from seawall.policies._breaker import OPEN, CircuitBreaker
from seawall.policies._bulkhead import Bulkhead
from seawall.policies._cache import Cache
from seawall.policies._fallback import Fallback
from seawall.policies._hedge import Hedge
from seawall.policies._ratelimit import RateLimiter
from seawall.policies._retry import Retry
from seawall.policies._shedder import LoadShedder
from seawall.policies._timeout import Timeout

__all__ = ["PolicySnapshot", "Snapshot", "read", "snapshot", "take"]

PRIORITIES = tuple(PRIORITY_RANK)


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class PolicySnapshot:
    """One policy's state and counters at one instant.

    ``kind`` is ``circuit_breaker``, ``retry``, ``hedge``, ``bulkhead``, ``timeout``,
    ``fallback``, ``load_shedder``, ``cache``, ``rate_limiter`` or ``lease``; ``name`` its
    configured name (a client's per-host policies carry the client's name); ``target``
    the ``host:port`` of a client's per-host policy, else ``None``. ``values`` holds the
    kind's fields, read-only; ``policy["state"]`` reads one of them.
    """

    kind: str
    name: str
    target: str | None
    values: Mapping[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def as_dict(self) -> dict[str, Any]:
        """The JSON form: ``kind``, ``name``, ``target`` and every value, as plain types."""
        return {"kind": self.kind, "name": self.name, "target": self.target, **_thaw(self.values)}


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Every named policy of the process (or of the policies asked for), at ``time``."""

    time: float
    policies: tuple[PolicySnapshot, ...]

    def __iter__(self) -> Iterator[PolicySnapshot]:
        return iter(self.policies)

    def __len__(self) -> int:
        return len(self.policies)

    def find(self, kind: str, name: str, target: str | None = None) -> PolicySnapshot | None:
        """The first policy of ``kind`` named ``name`` (and ``target``), or ``None``."""
        for policy in self.policies:
            if policy.kind == kind and policy.name == name and policy.target == target:
                return policy
        return None


def _breaker(b: CircuitBreaker) -> tuple[str, dict[str, Any]]:
    stats = b.statistics()
    rate = stats.failure_rate if stats.calls >= b.min_calls else None
    transitions = [
        {"from": old, "to": new, "count": n} for (old, new), n in list(b.transitions.items())
    ]
    return "circuit_breaker", {
        "state": stats.state,
        "open_remaining": (stats.retry_after or 0.0) if stats.state == OPEN else 0.0,
        "calls": {
            "success": b.calls_success,
            "failure": b.calls_failure,
            "ignored": b.calls_ignored,
            "rejected": b.calls_rejected,
            "slow": b.calls_slow,
        },
        "transitions": transitions,
        "failure_rate": rate,
    }


def _retry(r: Retry) -> tuple[str, dict[str, Any]]:
    utilization: float | None = None
    if r.budget is not None:
        budget = r.budget.statistics()
        allowed = budget.retries + budget.available
        utilization = min(1.0, budget.retries / allowed) if allowed > 0 else 1.0
    return "retry", {
        "calls": {
            "success_first_try": r.calls_success_first_try,
            "success_after_retry": r.calls_success_after_retry,
            "failed_after_retry": r.calls_failed_after_retry,
            "not_retryable": r.calls_not_retryable,
            "budget_refused": r.calls_budget_refused,
            "deadline_refused": r.calls_deadline_refused,
        },
        # A Retry never hedges; a Hedge reports its hedges under its own kind.
        "attempts": {"original": r.attempts_original, "retry": r.attempts_retry, "hedge": 0},
        "budget_utilization": utilization,
        "timeouts": r.timeouts,
    }


def _budget_utilization(budget: object) -> float | None:
    if budget is None or not hasattr(budget, "statistics"):
        return None
    stats = budget.statistics()
    retries = getattr(stats, "retries", None)
    available = getattr(stats, "available", None)
    if not isinstance(retries, int | float) or not isinstance(available, int | float):
        return None  # throttling tokens: no share of a window to report
    allowed = retries + available
    return min(1.0, retries / allowed) if allowed > 0 else 1.0


def _hedge(h: Hedge) -> tuple[str, dict[str, Any]]:
    # The call outcomes and attempts use the retry's names, so one PromQL query reads
    # both: gRFC A6 makes hedging and retries two ways of resending the same call.
    return "hedge", {
        "calls": {
            "success_first_try": h.answered_original,
            "success_after_retry": h.hedges_won,
            "failed_after_retry": h.failed_hedged,
            "not_retryable": h.failed_unhedged,
            "budget_refused": 0,
            "deadline_refused": 0,
        },
        "attempts": {"original": h.attempts_original, "retry": 0, "hedge": h.attempts_hedge},
        "hedges": {
            "won": h.hedges_won,
            "refused": {
                "budget": h.hedges_budget_refused,
                "deadline": h.hedges_deadline_refused,
                "pool": h.hedges_pool_refused,
            },
            "losers_cancelled": h.losers_cancelled,
        },
        "delay": h.current_delay(),
        "budget_utilization": _budget_utilization(h.budget),
    }


def _rate_limiter(r: RateLimiter) -> tuple[str, dict[str, Any]]:
    # Per key counts never: keys are tenants, API keys, routes, an unbounded set.
    return "rate_limiter", {
        "requests": {"admitted": r.admitted, "limited": r.limited},
        "store_errors": r.store_errors,
        "rate": r.rate,
        "burst": r.burst,
    }


def _bulkhead(b: Bulkhead) -> tuple[str, dict[str, Any]]:
    stats = b.statistics()
    return "bulkhead", {
        "in_flight": stats.in_flight,
        "queued": stats.queued,
        "limit": stats.max_concurrent,
        "rejections": {"full": b.rejected_full, "queue_timeout": b.rejected_timeout},
    }


def _shedder(s: LoadShedder) -> tuple[str, dict[str, Any]]:
    stats = s.statistics()
    state = s._state
    queued = {p: len(q) for p, q in zip(PRIORITIES, state.queues, strict=True)}
    requests = {}
    for p in PRIORITIES:
        after = stats.admitted_after_queue.get(p, 0)
        # Each request counted once: admitted at once, admitted after queueing, or shed.
        requests[p] = {
            "admitted": stats.admitted[p] - after,
            "admitted_after_queue": after,
            "shed": stats.shed[p],
        }
    return "load_shedder", {
        "limit": stats.limit,
        "in_flight": stats.inflight,
        "requests": requests,
        "queued": queued,
    }


def _cache(c: Cache) -> tuple[str, dict[str, Any]]:
    return "cache", {
        "requests": {
            "hit": c.hits,
            "miss": c.misses,
            "stale": c.stale_hits,
            "coalesced": c.coalesced,
        }
    }


def _lease(elector: Any) -> tuple[str, dict[str, Any]]:
    return "lease", {
        "leader": bool(elector.is_leader()),
        "transitions": int(getattr(elector, "transitions", 0)),
    }


def read(
    policy: object, name: str | None = None, target: str | None = None, *, freeze: bool = True
) -> PolicySnapshot | None:
    """A snapshot of ``policy``, or ``None`` for a kind that has nothing to report."""
    reader: Any
    if isinstance(policy, CircuitBreaker):
        reader = _breaker
    elif isinstance(policy, Retry):
        reader = _retry
    elif isinstance(policy, Bulkhead):
        reader = _bulkhead
    elif isinstance(policy, Hedge):
        reader = _hedge
    elif isinstance(policy, RateLimiter):
        reader = _rate_limiter
    elif isinstance(policy, Timeout):
        kind, values = "timeout", {"timeouts": policy.timeouts}
        reader = None
    elif isinstance(policy, Fallback):
        kind, values = "fallback", {"fallbacks": policy.fallbacks}
        reader = None
    elif isinstance(policy, LoadShedder):
        reader = _shedder
    elif isinstance(policy, Cache):
        reader = _cache
    elif hasattr(policy, "is_leader") and hasattr(policy, "leadership"):
        reader = _lease
    else:
        return None
    own = getattr(policy, "name", None)
    if not isinstance(own, str):
        return None  # made but never finished: its constructor refused its arguments
    if reader is not None:
        kind, values = reader(policy)
    return PolicySnapshot(kind, name or own, target, _freeze(values) if freeze else values)


# Kinds whose values are counters: two policies with the same labels add up (a client's
# per-host retry and its single-attempt twin for requests that cannot be replayed).
_ADDITIVE = frozenset({"retry", "hedge", "timeout", "fallback", "cache", "rate_limiter"})
_LARGEST = frozenset({"budget_utilization", "delay", "rate", "burst"})


def _sum(a: Any, b: Any, key: str = "") -> Any:
    if a is None:
        return b
    if b is None:
        return a
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return {k: _sum(a.get(k), b.get(k), k) for k in {**a, **b}}
    if isinstance(a, int | float) and isinstance(b, int | float):
        return max(a, b) if key in _LARGEST else a + b
    return a


def _members(of: Iterable[object]) -> Iterator[object]:
    for item in of:
        inner = getattr(item, "seawall", None)
        if isinstance(inner, Policy) and not isinstance(item, Policy):
            item = inner  # a decorated function: its policies
        if isinstance(item, Policy):
            yield from item._stack()
        else:
            yield item


def snapshot(*of: object) -> Snapshot:
    """A frozen snapshot of every named policy in the process, or of ``of``'s policies.

    ``of`` takes policies, pipelines, and functions decorated with one
    (``seawall.snapshot(fn.seawall)`` or ``seawall.snapshot(fn)``). A client's per-host
    policies carry the client's name and their ``target``.
    """
    return take(of)


def take(of: tuple[object, ...] = (), *, freeze: bool = True) -> Snapshot:
    """:func:`snapshot`; unfrozen (plain dicts, for a collector that only reads) if asked."""
    found: list[PolicySnapshot] = []
    if of:
        labels = {id(p): (name, target) for p, name, target in _catalog.entries()}
        candidates = [(p, *labels.get(id(p), (None, None))) for p in _members(of)]
    else:
        candidates = _catalog.entries()
    merged: dict[tuple[str, str, str | None], int] = {}
    for policy, name, target in candidates:
        taken = read(policy, name, target, freeze=freeze)
        if taken is None:
            continue
        key = (taken.kind, taken.name, taken.target)
        if taken.kind in _ADDITIVE and key in merged:
            at = merged[key]
            total = _sum(found[at].values, taken.values)
            found[at] = PolicySnapshot(*key, _freeze(total) if freeze else total)
        else:
            merged[key] = len(found)
            found.append(taken)
    return Snapshot(time.time(), tuple(found))
