"""OpenTelemetry observable instruments carry the table's names with dots, read when collected."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

import seawall
from seawall.metrics import instrument
from seawall.metrics._otel import otel_name
from seawall.testing import FakeClock


def test_names_are_the_prometheus_ones_with_dots_and_no_total() -> None:
    assert otel_name("seawall_circuit_breaker_transitions_total") == (
        "seawall.circuit_breaker.transitions"
    )
    assert otel_name("seawall_retry_budget_utilization_ratio") == "seawall.retry.budget.utilization"
    assert otel_name("seawall_bulkhead_in_flight") == "seawall.bulkhead.in_flight"
    assert otel_name("seawall_load_shedder_requests_total") == "seawall.load_shedder.requests"


def test_instruments_report_the_policies_counters_on_collection() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    instrument(meter_provider=provider)
    retry = seawall.Retry(2, name="otel-retry", clock=FakeClock())
    assert retry.call(lambda: "ok") == "ok"
    data = reader.get_metrics_data()
    assert data is not None
    points = {
        (metric.name, tuple(sorted(point.attributes.items()))): point.value
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for metric in sm.metrics
        for point in metric.data.data_points
    }
    key = ("seawall.retry.calls", (("name", "otel-retry"), ("outcome", "success_first_try")))
    assert points[key] == 1
    provider.shutdown()


def test_without_opentelemetry_instrument_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "seawall.metrics._otel", None)
    with pytest.raises(seawall.ConfigError, match=r"seawall\[metrics\]"):
        instrument()


def test_importing_seawall_imports_no_metrics_library() -> None:
    import subprocess
    import sys

    code = (
        "import sys, seawall, seawall.http; "
        "print(sorted(m for m in sys.modules if m.startswith("
        "('prometheus_client', 'opentelemetry', 'seawall.metrics'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
