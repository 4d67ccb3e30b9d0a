"""A snapshot becomes one reading per dependency tile, whatever else it holds."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from seawall.metrics._tiles import Reading, quantile, readings, tile_id
from tests.unit.metrics.snapshots import (
    BUCKETS,
    breaker,
    bulkhead,
    client_row,
    latency,
    retry,
    shedder,
    snapshot,
)


def test_policies_sharing_name_and_target_make_one_tile_with_their_client_rows() -> None:
    target = "127.0.0.1:8001"
    tiles = readings(
        snapshot(
            breaker(
                "pay", target, state="open", success=7, failure=3, rejected=4, open_remaining=12
            ),
            retry("pay", target, retries=5, budget=0.4),
            bulkhead(
                "pay", target, in_flight=2, queued=1, rejections={"full": 1, "queue_timeout": 1}
            ),
            {"kind": "timeout", "name": "pay", "target": target, "timeouts": 2},
            {"kind": "fallback", "name": "pay", "target": target, "fallbacks": 6},
            breaker("pay", None, success=1),  # same name, no target: another tile
            client=[
                client_row("pay", target, counts=latency(b2=3)),
                client_row("pay", target, status=503),
            ],
        )
    )
    assert set(tiles) == {("pay", target), ("pay", None)}
    tile = tiles[("pay", target)]
    assert tile.counters["success"] == 7  # the breaker's verdicts win over the client's
    assert tile.counters["failure"] == 3
    assert tile.counters["rejected"] == 4 + 2  # breaker refusals and bulkhead rejections
    assert tile.counters["timeout"] == 2
    assert tile.counters["fallback"] == 6
    assert tile.counters["retries"] == 5
    assert (tile.state, tile.open_remaining, tile.budget) == ("open", 12, 0.4)
    assert tile.bulkhead == (2, 1, 10)
    assert tile.latency[2] == 3
    assert tile_id(("pay", target)) == "pay|127.0.0.1:8001"
    assert tile_id(("pay", None)) == "pay|"


def test_without_a_breaker_retry_outcomes_then_client_statuses_count() -> None:
    only_retry = readings(snapshot(retry("a", first=5, after=2, failed=3)))[("a", None)]
    assert (only_retry.counters["success"], only_retry.counters["failure"]) == (7, 3)
    rows = [
        client_row("c", "h:1", status=200, counts=latency(b0=4)),
        client_row("c", "h:1", status=404, counts=latency(b0=1)),
        client_row("c", "h:1", status=503, counts=latency(b0=2)),
        client_row("c", "h:1", status=None, counts=latency(b0=1)),
    ]
    only_client = readings(snapshot(client=rows))[("c", "h:1")]
    assert (only_client.counters["success"], only_client.counters["failure"]) == (5, 3)
    assert only_client.latency[0] == 8


def test_a_shedder_tile_counts_admissions_and_sheds_by_priority() -> None:
    tile = readings(snapshot(shedder(shed={"low": 4, "normal": 1})))[("http", None)]
    assert tile.counters["success"] == 40
    assert tile.counters["shed"] == 5
    assert tile.counters["shed.low"] == 4
    assert tile.shedder is not None
    assert tile.shedder[0] == 64
    assert tile.shedder[2]["low"] == 5


def test_unknown_kinds_keys_and_malformed_rows_are_skipped() -> None:
    odd: dict[str, Any] = snapshot(
        breaker(success=1),
        {"kind": "cache", "name": "prices", "target": None, "requests": {"hit": 1}},
        {"kind": "circuit_breaker", "name": 3},
        {"kind": "retry", "name": "x", "target": None, "calls": "lots"},
        "not a row",  # type: ignore[arg-type]
    )
    odd["future_field"] = {"anything": True}
    odd["policies"][0]["calls"]["success"] = "many"
    tiles = readings(odd)
    assert set(tiles) == {("payments", None), ("x", None)}
    assert tiles[("payments", None)].counters["success"] == 0
    assert readings({}) == {}
    assert readings({"policies": "nope", "http": []}) == {}


def test_quantiles_interpolate_within_buckets_like_histogram_quantile() -> None:
    counts = latency(b1=50, b2=50)  # 0.005-0.01 and 0.01-0.025
    assert quantile(0.5, BUCKETS, counts) == 0.01
    assert abs((quantile(0.99, BUCKETS, counts) or 0) - (0.01 + 0.015 * 0.98)) < 1e-12
    assert quantile(0.5, BUCKETS, [0] * 15) is None
    assert quantile(0.99, BUCKETS, latency(b14=3)) == 10  # +Inf reads as the last bound
    assert quantile(0.5, BUCKETS, [1, 2]) is None  # counts that do not fit the bounds


snapshot_json = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=30,
)
row_keys = st.sampled_from(
    ["kind", "name", "target", "calls", "state", "requests", "counts", "status"]
)


@given(
    st.lists(st.dictionaries(row_keys, snapshot_json, max_size=6), max_size=5),
    st.lists(st.dictionaries(row_keys, snapshot_json, max_size=6), max_size=3),
    snapshot_json,
)
def test_any_json_reads_without_raising(policies: Any, clients: Any, bounds: Any) -> None:
    tiles = readings({"policies": policies, "http": {"buckets": bounds, "client": clients}})
    for reading in tiles.values():
        assert isinstance(reading, Reading)
        json.dumps(reading.counters)
        assert all(isinstance(v, float) for v in reading.counters.values())
