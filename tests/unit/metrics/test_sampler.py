"""One-second samples become rates, rolling counts, sparklines and merged gauges."""

from __future__ import annotations

from typing import Any

from seawall.metrics._sampler import Sampler, view
from seawall.metrics._tiles import Reading, TileKey, readings
from tests.unit.metrics.snapshots import BUCKETS, breaker, bulkhead, client_row, latency, snapshot

KEY: TileKey = ("payments", None)
BOUNDS = tuple(float(b) for b in BUCKETS)


def seen(
    *rows: dict[str, Any], client: list[dict[str, Any]] | None = None
) -> dict[TileKey, Reading]:
    return readings(snapshot(*rows, client=client))


def tile(current: dict[str, Any], tile_id: str = "payments|") -> dict[str, Any]:
    return next(t for t in current["tiles"] if t["id"] == tile_id)


def test_counters_since_start_become_per_second_rates_after_a_baseline() -> None:
    sampler = Sampler(size=120)
    sampler.record(0.0, {"a": seen(breaker(success=1000, failure=500))})  # baseline only
    for second in range(1, 6):
        total = breaker(success=1000 + 9 * second, failure=500 + second)
        sampler.record(float(second), {"a": seen(total)})
    current = view(sampler, window=10)
    payments = tile(current)
    assert payments["counts"]["success"] == 45
    assert payments["counts"]["failure"] == 5
    assert payments["rate"] == 50 / 6  # six samples in the window, the first one empty
    assert payments["error_pct"] == 10.0
    assert payments["spark"][-6:] == [0, 10, 10, 10, 10, 10]
    assert payments["spark_errors"][-1] == 1
    assert len(payments["spark"]) == 120
    assert payments["spark"][:114] == [None] * 114  # padded: two minutes on one axis


def test_only_the_last_size_samples_are_kept_and_window_bounds_the_counts() -> None:
    sampler = Sampler(size=120)
    for second in range(200):
        sampler.record(float(second), {"a": seen(breaker(success=second * 2))})
    assert len(sampler.seconds) == 120
    payments = tile(view(sampler, window=10))
    assert payments["counts"]["success"] == 20
    assert payments["rate"] == 2
    assert payments["spark"] == [2] * 120


def test_a_restarted_instance_counts_from_zero_not_backwards() -> None:
    sampler = Sampler(size=120)
    sampler.record(0.0, {"a": seen(breaker(success=100))})
    sampler.record(1.0, {"a": seen(breaker(success=110))})
    sampler.record(2.0, {"a": seen(breaker(success=3))})  # the process restarted
    assert [s.tiles[KEY].counts["success"] for s in sampler.seconds] == [0, 10, 3]


def test_instances_sum_their_differences_and_the_worst_breaker_state_wins() -> None:
    sampler = Sampler(size=120)
    for second in range(3):
        a = seen(breaker(success=10 * second), bulkhead(in_flight=2, limit=10))
        b = seen(
            breaker(state="open" if second else "closed", failure=5 * second, open_remaining=7.5),
            bulkhead(in_flight=3, limit=10),
        )
        sampler.record(float(second), {"a": a, "b": b})
    payments = tile(view(sampler, window=10))
    assert payments["counts"]["success"] == 20
    assert payments["counts"]["failure"] == 10
    assert payments["state"] == "open"
    assert payments["open_remaining"] == 7.5
    assert payments["states"] == {"a": "closed", "b": "open"}
    assert payments["bulkhead"] == {"in_flight": 5, "queued": 0, "limit": 20}


def test_an_instance_that_does_not_answer_is_listed_and_adds_nothing() -> None:
    sampler = Sampler(size=120)
    sampler.record(0.0, {"a": seen(breaker(success=0)), "b": seen(breaker(success=0))})
    sampler.record(1.0, {"a": seen(breaker(success=5)), "b": "ConnectError: refused"})
    sampler.record(2.0, {"a": seen(breaker(success=10)), "b": seen(breaker(success=40))})
    current = view(sampler, window=10)
    assert [s.tiles[KEY].counts["success"] for s in sampler.seconds] == [0, 5, 45]
    assert current["instances"] == {"a": None, "b": None}
    assert list(sampler.seconds)[1].errors == {"a": None, "b": "ConnectError: refused"}


def test_latency_quantiles_come_from_the_windows_bucket_differences() -> None:
    sampler = Sampler(size=120)
    old = latency(b12=1000)  # slow calls before the window: not in today's quantiles
    row = {"client": [client_row("payments", "h:1", counts=old)]}
    sampler.record(0.0, {"a": readings(snapshot(**row))}, BOUNDS)
    fast = [a + b for a, b in zip(old, latency(b1=99, b4=1), strict=True)]
    sampler.record(
        1.0, {"a": readings(snapshot(client=[client_row("payments", "h:1", counts=fast)]))}
    )
    current = tile(view(sampler, window=10), "payments|h:1")
    assert 0.005 < current["p50"] <= 0.01
    assert 0.005 < current["p99"] <= 0.01
    assert current["counts"]["success"] == 100


def test_a_tile_gone_from_the_snapshots_stays_until_its_samples_age_out() -> None:
    sampler = Sampler(size=3)
    sampler.record(0.0, {"a": seen(breaker(success=1))})
    for second in range(1, 4):
        sampler.record(float(second), {"a": {}})
    assert view(sampler, window=3)["tiles"] == []
    sampler = Sampler(size=3)
    sampler.record(0.0, {"a": seen(breaker(success=1))})
    sampler.record(1.0, {"a": {}})
    assert [t["id"] for t in view(sampler, window=3)["tiles"]] == ["payments|"]


def test_an_empty_sampler_has_an_empty_view() -> None:
    current = view(Sampler(size=120))
    assert current["tiles"] == []
    assert current["time"] is None


def test_at_most_max_tiles_are_drawn_troubled_breakers_first_then_the_busiest() -> None:
    sampler = Sampler(size=120)
    for second in range(3):
        tiles = seen(
            breaker("idle", success=0),
            breaker("busy", success=100 * second),
            breaker("quiet-but-open", state="open" if second else "closed"),
            breaker("warm", success=10 * second),
        )
        sampler.record(float(second), {"a": tiles})
    current = view(sampler, window=10, max_tiles=2)
    assert [t["id"] for t in current["tiles"]] == ["busy|", "quiet-but-open|"]  # by name
    assert current["hidden"] == 2
    assert len(view(sampler, window=10)["tiles"]) == 4
