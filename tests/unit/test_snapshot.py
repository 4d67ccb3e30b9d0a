"""seawall.snapshot(): every named policy of the process, frozen, from a weak catalog."""

from __future__ import annotations

import gc
import json
from types import MappingProxyType

import pytest

import seawall
from seawall import _catalog
from seawall.testing import FakeClock


def _fail() -> None:
    raise ConnectionError("reset")


def test_every_policy_kind_is_listed_under_its_configured_name() -> None:
    clock = FakeClock()
    pipeline = seawall.standard("snap-payments", clock=clock)
    cache = seawall.Cache(60.0, name="snap-prices", clock=clock)
    shedder = seawall.LoadShedder("snap-edge", limit=4, clock=clock)
    fallback = seawall.Fallback(value=0, name="snap-default")
    taken = seawall.snapshot()
    kinds = {(p.kind, p.name) for p in taken}
    assert {
        ("retry", "snap-payments"),
        ("circuit_breaker", "snap-payments"),
        ("bulkhead", "snap-payments"),
        ("timeout", "snap-payments.attempt"),
        ("cache", "snap-prices"),
        ("load_shedder", "snap-edge"),
        ("fallback", "snap-default"),
    } <= kinds
    del pipeline, cache, shedder, fallback  # alive until here


def test_the_catalog_never_keeps_a_policy_alive() -> None:
    breaker = seawall.CircuitBreaker("snap-short-lived")
    assert seawall.snapshot().find("circuit_breaker", "snap-short-lived") is not None
    del breaker
    gc.collect()
    assert seawall.snapshot().find("circuit_breaker", "snap-short-lived") is None


def test_a_policy_whose_arguments_were_refused_is_not_listed() -> None:
    with pytest.raises(seawall.ConfigError):
        seawall.CircuitBreaker("snap-refused", failure_rate=2.0)
    assert seawall.snapshot().find("circuit_breaker", "snap-refused") is None


def test_a_decorated_function_keeps_its_pipeline_and_snapshots_its_counters() -> None:
    clock = FakeClock()
    pipeline = seawall.standard("snap-decorated", clock=clock, attempts=2, min_calls=1)

    @pipeline
    def pay() -> str:
        return "paid"

    assert pay() == "paid"
    assert pay.seawall is pipeline  # type: ignore[attr-defined]
    mine = seawall.snapshot(pay)
    assert [p.kind for p in mine] == ["retry", "circuit_breaker", "bulkhead", "timeout"]
    retry = mine.find("retry", "snap-decorated")
    assert retry is not None
    assert retry["calls"]["success_first_try"] == 1
    assert retry["attempts"] == {"original": 1, "retry": 0, "hedge": 0}
    breaker = mine.find("circuit_breaker", "snap-decorated")
    assert breaker is not None
    assert breaker["calls"]["success"] == 1


def test_breaker_snapshot_shows_state_time_left_transitions_and_rate_from_min_calls() -> None:
    clock = FakeClock()
    breaker = seawall.CircuitBreaker(
        "snap-breaker", min_calls=3, window=10.0, cooldown=5.0, clock=clock
    )
    with pytest.raises(ConnectionError):
        breaker.call(_fail)
    below = seawall.snapshot(breaker).policies[0]
    assert below["failure_rate"] is None  # one call: below min_calls
    for _ in range(2):
        with pytest.raises(ConnectionError):
            breaker.call(_fail)
    clock.sleep(2.0)
    opened = seawall.snapshot(breaker).policies[0]
    assert opened["state"] == "open"
    assert opened["open_remaining"] == pytest.approx(3.0)
    assert opened["failure_rate"] == 1.0
    assert opened["transitions"] == ({"from": "closed", "to": "open", "count": 1},)
    assert opened["calls"]["failure"] == 3


def test_a_snapshot_is_frozen_and_its_dict_form_is_json() -> None:
    bulkhead = seawall.Bulkhead("snap-frozen", max_concurrent=3)
    policy = seawall.snapshot(bulkhead).policies[0]
    assert isinstance(policy.values, MappingProxyType)
    with pytest.raises(TypeError):
        policy.values["limit"] = 9  # type: ignore[index]
    as_dict = policy.as_dict()
    assert as_dict == {
        "kind": "bulkhead",
        "name": "snap-frozen",
        "target": None,
        "in_flight": 0,
        "queued": 0,
        "limit": 3,
        "rejections": {"full": 0, "queue_timeout": 0},
    }
    json.dumps(as_dict)


def test_shedder_counts_each_request_once_by_priority() -> None:
    clock = FakeClock()
    shedder = seawall.LoadShedder("snap-shed", limit=1, max_queue=0, clock=clock)
    with shedder.admit("high"), pytest.raises(seawall.LoadShed):
        with shedder.admit("low"):
            pass
    taken = seawall.snapshot(shedder).policies[0]
    assert taken["requests"]["high"] == {"admitted": 1, "admitted_after_queue": 0, "shed": 0}
    assert taken["requests"]["low"] == {"admitted": 0, "admitted_after_queue": 0, "shed": 1}
    assert taken["queued"] == {"critical": 0, "high": 0, "normal": 0, "low": 0}


def test_policies_with_equal_labels_add_up_when_they_only_count() -> None:
    first = seawall.Timeout(1.0, name="snap-twice")
    second = seawall.Timeout(1.0, name="snap-twice")
    first.timeouts, second.timeouts = 2, 3
    found = [p for p in seawall.snapshot() if p.name == "snap-twice"]
    assert len(found) == 1
    assert found[0]["timeouts"] == 5


def test_targets_are_capped_then_other() -> None:
    seen = set(_catalog._targets)
    try:
        labels = [
            _catalog.target_label(f"snap-host-{i}:80") for i in range(_catalog.MAX_TARGETS + 5)
        ]
        assert labels.count(_catalog.OTHER) >= 5
        assert len(set(labels) - {_catalog.OTHER}) <= _catalog.MAX_TARGETS
        assert _catalog.target_label(labels[0]) == labels[0]  # a known target keeps its label
    finally:
        _catalog._targets.clear()
        _catalog._targets.update(seen)


def test_http_histograms_bound_their_label_sets() -> None:
    from seawall import _durations

    histogram = _durations.Durations(("route", "method", "status"), overflow=0)
    for i in range(_durations.MAX_SERIES + 50):
        histogram.record((f"/r{i}", "GET", 200), 0.001)
    rows = histogram.rows()
    assert len(rows) == _durations.MAX_SERIES + 1
    other = [r for r in rows if r["route"] == "other"]
    assert other[0]["count"] == 50
    assert _durations.method_label("BREW") == "_OTHER"
    assert _durations.method_label("PATCH") == "PATCH"
