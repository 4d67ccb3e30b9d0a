"""The Prometheus collector reads the policies at scrape time, in base units and bounded labels."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

import seawall
from seawall.metrics import prometheus_text, register
from seawall.testing import FakeClock


def _samples(text: bytes) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text.decode())
        for s in family.samples
    }


def _fail() -> None:
    raise ConnectionError("reset")


def test_a_scrape_reads_counters_the_policies_kept_since_the_last_one() -> None:
    clock = FakeClock()
    breaker = seawall.CircuitBreaker("prom-breaker", min_calls=2, cooldown=5.0, clock=clock)
    registry = CollectorRegistry()
    register(registry)
    key = (
        "seawall_circuit_breaker_transitions_total",
        frozenset(
            {
                "name": "prom-breaker",
                "from_state": "closed",
                "to_state": "open",
            }.items()
        ),
    )
    assert _samples(generate_latest(registry))[key] == 0  # present from the start
    for _ in range(2):
        with pytest.raises(ConnectionError):
            breaker.call(_fail)
    samples = _samples(generate_latest(registry))
    assert samples[key] == 1
    state = ("seawall_circuit_breaker_state", "prom-breaker")
    states = {
        dict(labels)["state"]: v
        for (name, labels), v in samples.items()
        if (name, dict(labels).get("name")) == state
    }
    assert states == {"closed": 0, "open": 1, "half_open": 0}
    breaker.force_open()  # an operator's state is a series while the breaker is in it
    forced = _samples(generate_latest(registry))
    labels = {"name": "prom-breaker", "state": "forced_open"}
    assert forced["seawall_circuit_breaker_state", frozenset(labels.items())] == 1
    calls = ("seawall_circuit_breaker_calls_total", frozenset(
        {"name": "prom-breaker", "outcome": "failure"}.items()))  # fmt: skip
    assert samples[calls] == 2


def test_every_metric_of_the_table_is_exposed_with_its_type() -> None:
    clock = FakeClock()
    keep = (
        seawall.standard("prom-all", clock=clock),
        seawall.LoadShedder("prom-all", clock=clock),
        seawall.Cache(1.0, name="prom-all", clock=clock),
        seawall.Fallback(value=1, name="prom-all"),
    )
    families = {f.name: f.type for f in text_string_to_metric_families(prometheus_text().decode())}
    expected = {
        "seawall_retry_calls": "counter",
        "seawall_retry_attempts": "counter",
        "seawall_retry_budget_utilization_ratio": "gauge",
        "seawall_circuit_breaker_state": "gauge",
        "seawall_circuit_breaker_transitions": "counter",
        "seawall_circuit_breaker_calls": "counter",
        "seawall_circuit_breaker_failure_rate_ratio": "gauge",
        "seawall_bulkhead_in_flight": "gauge",
        "seawall_bulkhead_queued": "gauge",
        "seawall_bulkhead_limit": "gauge",
        "seawall_bulkhead_rejections": "counter",
        "seawall_timeouts": "counter",
        "seawall_fallbacks": "counter",
        "seawall_load_shedder_requests": "counter",
        "seawall_load_shedder_limit": "gauge",
        "seawall_load_shedder_in_flight": "gauge",
        "seawall_cache_requests": "counter",
        "seawall_lease_leader": "gauge",
        "seawall_lease_transitions": "counter",
        "http_server_request_duration_seconds": "histogram",
        "http_client_request_duration_seconds": "histogram",
        "rpc_server_duration_milliseconds": "histogram",
        "rpc_client_duration_milliseconds": "histogram",
    }
    assert {name: families.get(name) for name in expected} == expected
    del keep


def test_registering_twice_with_one_registry_adds_one_collector() -> None:
    registry = CollectorRegistry()
    assert register(registry) is register(registry)
    text = generate_latest(registry).decode()
    assert text.count("# TYPE seawall_retry_calls_total counter") == 1


def test_the_failure_rate_is_absent_below_min_calls() -> None:
    breaker = seawall.CircuitBreaker("prom-rate", min_calls=5, clock=FakeClock())
    with pytest.raises(ConnectionError):
        breaker.call(_fail)
    rates = [
        s for (name, labels), s in _samples(prometheus_text()).items()
        if name == "seawall_circuit_breaker_failure_rate_ratio" and ("name", "prom-rate") in labels
    ]  # fmt: skip
    assert rates == []


def test_seawall_exposition_says_exactly_what_generate_latest_says() -> None:
    import gc

    from seawall import _durations

    gc.collect()  # garbage policies of earlier tests must not leave between the two reads
    clock = FakeClock()
    keep = [seawall.standard(f"prom-same-{i}", clock=clock) for i in range(3)]
    keep[0].call(lambda: 1)
    _durations.SERVER.record(("/a/{id}", "GET", 200), 0.02)
    _durations.CLIENT.record(("cli", 'odd"host\\:1', "GET", None), 0.3)
    _durations.RPC_SERVER.record(("demo.Greeter", "Hello", 0), 0.004)
    _durations.RPC_CLIENT.record(("cli", "127.0.0.1:1", "demo.Greeter", "Hello", 14), 1.5)
    registry = CollectorRegistry()
    register(registry)
    ours = _samples(prometheus_text())
    theirs = _samples(generate_latest(registry))
    assert ours == theirs
    assert any(name == "http_server_request_duration_seconds_bucket" for name, _ in ours)
    assert ours["rpc_client_duration_milliseconds_sum", frozenset((
        ("name", "cli"), ("rpc_grpc_status_code", "14"), ("rpc_method", "Hello"),
        ("rpc_service", "demo.Greeter"), ("rpc_system", "grpc"), ("target", "127.0.0.1:1"),
    ))] == 1500.0  # fmt: skip
    del keep


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=40), st.text(max_size=20))
def test_any_label_value_survives_seawall_exposition(target: str, route: str) -> None:
    from seawall.metrics import _exposition

    line = _exposition._prefix("x_seconds", ("target", "http_route"), (target, route))
    text = f"# TYPE x_seconds gauge\n{line}1.0\n"
    [family] = text_string_to_metric_families(text)
    [sample] = family.samples
    assert sample.labels == {"target": target, "http_route": route}
