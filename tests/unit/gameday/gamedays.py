"""Game-day reports (``gameday.json``) built in code: one shaped like a real run of the
built-in game day, and a small one to build odd cases from."""

from __future__ import annotations

from typing import Any


def series(rate: int, failing: dict[int, int] | None = None, seconds: int = 8) -> list[list[Any]]:
    """Per second ``[t, scheduled, ok, p99_ms]``; ``failing`` maps a second to its ok count."""
    failing = failing or {}
    return [
        [t, rate, failing.get(t, rate), None if failing.get(t) == 0 else 20.0 + t]
        for t in range(seconds)
    ]


def run(gateway: str, **fields: Any) -> dict[str, Any]:
    """One gateway's run; unspecified numbers are those of an untroubled run."""
    base: dict[str, Any] = {
        "gateway": gateway,
        "scheduled": 480,
        "ok": 480,
        "success": 100.0,
        "p50_ms": 10.0,
        "p99_ms": 40.0,
        "goodput": 60.0,
        "amplification": 1.0,
        "catalog_calls": 100,
        "catalog_peak": 1,
        "duplicates": 0,
        "charges": 0,
        "recovery_s": 0.0,
        "series": series(60),
    }
    return base | fields


def scenario(name: str, naive: Any, ours: Any, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": name,
        "title": f"Scenario {name}",
        "mode": "slow downstream",
        "won": True,
        "why": "better on success %",
        "window": [2.0, 6.0],
        "runs": {"naive": naive, "seawall": ours},
    }
    return base | fields


def meta(**fields: Any) -> dict[str, Any]:
    return {
        "seed": 0,
        "duration": 8.0,
        "rate": 60.0,
        "budget_ms": 2000,
        "elapsed_s": 102.1,
    } | fields


def sample_gameday() -> dict[str, Any]:
    """The built-in game day as ``seawall gameday`` reported it for seed 0."""
    slow = scenario(
        "slow-downstream",
        run(
            "naive",
            ok=270,
            success=56.25,
            p99_ms=2000.9,
            amplification=1.48,
            recovery_s=1.0,
            series=series(60, {2: 26, 3: 0, 4: 0, 5: 0, 6: 48}),
        ),
        run(
            "seawall",
            ok=427,
            success=88.96,
            p99_ms=1666.0,
            amplification=1.19,
            series=series(60, {2: 52, 3: 50, 4: 51, 5: 50, 6: 55, 7: 57}),
        ),
        title="Slow downstream: the catalog takes 3 s",
        why="better on success %, p99 ms",
    )
    partition = scenario(
        "partition",
        run(
            "naive",
            ok=120,
            success=25.0,
            p99_ms=2000.9,
            amplification=0.97,
            recovery_s=None,
            series=series(60, dict.fromkeys(range(2, 8), 0)),
        ),
        run("seawall", p99_ms=308.5, amplification=1.33),
        title="Network partition: recommendations blackholed",
        mode="network partition",
        why="better on success %, p99 ms",
    )
    storm = scenario(
        "retry-storm",
        run(
            "naive",
            ok=465,
            success=96.88,
            p99_ms=343.0,
            amplification=1.45,
            series=series(60, {2: 55, 3: 57, 5: 53}),
        ),
        run("seawall", p99_ms=1031.2, amplification=1.31),
        title="Cascading failure: a struggling catalog, retried harder",
        mode="cascading failure",
        why="better on downstream calls per request, success %",
    )
    herd = scenario(
        "thundering-herd",
        run("naive", scheduled=1920, ok=1920, p99_ms=176.9, series=series(240)),
        run("seawall", scheduled=1920, ok=1920, p99_ms=37.1, series=series(240)),
        title="Thundering herd: every cache entry expires at once",
        mode="thundering herd",
        why="better on catalog calls, p99 ms",
        window=[2.0, 2.4],
    )
    flaky = scenario(
        "flaky-network",
        run("naive", scheduled=720, ok=720, p99_ms=126.1, duplicates=43, charges=283),
        run("seawall", scheduled=720, ok=720, p99_ms=22.0, charges=240),
        title="Flaky network under POSTs: 30 % of charges reset after the work",
        mode="network partition (partial)",
        why="better on duplicate charges, success %",
    )
    deploy = scenario(
        "bad-deploy",
        run(
            "naive",
            ok=250,
            success=52.08,
            p99_ms=340.0,
            amplification=2.26,
            series=series(60, {2: 0, 3: 0, 4: 0, 5: 10}),
        ),
        run("seawall", p99_ms=188.7, amplification=0.92),
        title="Bad deploy: recommendations answers 500",
        mode="operator error",
        why="better on success %, p99 ms",
    )
    return {
        "meta": meta(),
        "scenarios": [slow, partition, storm, herd, flaky, deploy],
        "operator_checks": [
            {
                "name": "seawall budget check (timeouts going down)",
                "naive_errors": 4,
                "naive_warnings": 0,
                "seawall_errors": 0,
                "seawall_warnings": 0,
                "naive_rules": ["SW201"],
            },
            {
                "name": "seawall kube lint (manifests)",
                "naive_errors": 4,
                "naive_warnings": 5,
                "seawall_errors": 0,
                "seawall_warnings": 0,
                "naive_rules": ["SW101", "SW102", "SW104"],
            },
        ],
        "split_brain": [
            {
                "mode": "naive",
                "writes": 1005,
                "accepted": 1005,
                "rejected": 0,
                "conflicting": 45,
                "dual_leader_seconds": 5.91,
                "terms": 7,
            },
            {
                "mode": "lease",
                "writes": 935,
                "accepted": 935,
                "rejected": 0,
                "conflicting": 2,
                "dual_leader_seconds": 0.0,
                "terms": 8,
            },
            {
                "mode": "lease + fencing",
                "writes": 935,
                "accepted": 933,
                "rejected": 2,
                "conflicting": 0,
                "dual_leader_seconds": 0.0,
                "terms": 8,
            },
        ],
    }
