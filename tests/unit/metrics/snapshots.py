"""Synthetic ``/seawall`` snapshots in the contract's shape, for the dashboard's tests."""

from __future__ import annotations

from typing import Any

BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]


def breaker(
    name: str = "payments",
    target: str | None = None,
    *,
    state: str = "closed",
    success: int = 0,
    failure: int = 0,
    rejected: int = 0,
    open_remaining: float = 0.0,
) -> dict[str, Any]:
    return {
        "kind": "circuit_breaker",
        "name": name,
        "target": target,
        "state": state,
        "open_remaining": open_remaining,
        "calls": {
            "success": success,
            "failure": failure,
            "ignored": 0,
            "rejected": rejected,
            "slow": 0,
        },
        "transitions": [],
        "failure_rate": None,
    }


def retry(
    name: str = "payments",
    target: str | None = None,
    *,
    first: int = 0,
    after: int = 0,
    failed: int = 0,
    retries: int = 0,
    budget: float | None = 0.0,
) -> dict[str, Any]:
    return {
        "kind": "retry",
        "name": name,
        "target": target,
        "calls": {
            "success_first_try": first,
            "success_after_retry": after,
            "failed_after_retry": failed,
            "not_retryable": 0,
            "budget_refused": 0,
            "deadline_refused": 0,
        },
        "attempts": {"original": first + after + failed, "retry": retries, "hedge": 0},
        "budget_utilization": budget,
    }


def bulkhead(name: str = "payments", target: str | None = None, **fields: Any) -> dict[str, Any]:
    row = {"kind": "bulkhead", "name": name, "target": target, "in_flight": 0, "queued": 0}
    row |= {"limit": 10, "rejections": {"full": 0, "queue_timeout": 0}}
    return row | fields


def shedder(
    name: str = "http", *, shed: dict[str, int] | None = None, **fields: Any
) -> dict[str, Any]:
    shed = shed or {}
    requests = {
        p: {"admitted": 10, "admitted_after_queue": 0, "shed": shed.get(p, 0)}
        for p in ("critical", "high", "normal", "low")
    }
    row = {"kind": "load_shedder", "name": name, "target": None, "limit": 64, "in_flight": 3}
    row |= {"requests": requests, "queued": {"critical": 0, "high": 0, "normal": 2, "low": 5}}
    return row | fields


def client_row(
    name: str = "payments",
    target: str = "127.0.0.1:8001",
    *,
    status: int | None = 200,
    counts: list[int] | None = None,
) -> dict[str, Any]:
    counts = counts if counts is not None else [0] * (len(BUCKETS) + 1)
    return {
        "name": name,
        "target": target,
        "method": "GET",
        "status": status,
        "count": sum(counts),
        "sum": 0.0,
        "counts": counts,
    }


def snapshot(
    *policies: dict[str, Any], client: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {
        "version": 1,
        "service": "checkout",
        "time": 1796000000.0,
        "policies": list(policies),
        "http": {"buckets": list(BUCKETS), "server": [], "client": client or []},
    }


def latency(**by_bucket: int) -> list[int]:
    """Per-bucket counts: ``latency(b3=5)`` puts 5 observations in the 4th bucket."""
    counts = [0] * (len(BUCKETS) + 1)
    for key, n in by_bucket.items():
        counts[int(key[1:])] = n
    return counts
