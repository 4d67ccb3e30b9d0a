"""A Grafana dashboard per service, built only from the metrics seawall exports.

The panels answer an on-call engineer's questions in order: is the service answering
(rate, 5xx ratio, latency), is a dependency failing (client latency, breaker state and
transitions), and is seawall protecting it (retries by outcome and the retry budget's
use, bulkhead occupancy and rejections, shedding by priority, timeouts, fallbacks).

Every query selects ``job="<job>"`` and reads one of seawall's metric names, so the
dashboard works against any Prometheus that scrapes the service's ``/metrics``.
:func:`panel_queries` lists the queries with Grafana's ``$__rate_interval`` filled in,
for checking them against a real Prometheus.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["Panel", "dashboard", "dashboard_configmap", "panel_queries", "panels"]

RATE = "$__rate_interval"


@dataclass(frozen=True)
class Panel:
    title: str
    unit: str
    exprs: tuple[tuple[str, str], ...]  # (PromQL, legend)


def panels(job: str) -> tuple[Panel, ...]:
    """The dashboard's panels for the pods scraped as ``job``."""
    s = f'job="{job}"'
    server = "http_server_request_duration_seconds"
    client = "http_client_request_duration_seconds"
    return (
        Panel(
            "Requests by route",
            "reqps",
            ((f"sum by (http_route) (rate({server}_count{{{s}}}[{RATE}]))", "{{http_route}}"),),
        ),
        Panel(
            "5xx ratio by route",
            "percentunit",
            (
                (
                    f"sum by (http_route) (rate({server}_count"
                    f'{{{s},http_response_status_code=~"5.."}}[{RATE}]))\n/ '
                    f"sum by (http_route) (rate({server}_count{{{s}}}[{RATE}]))",
                    "{{http_route}}",
                ),
            ),
        ),
        Panel(
            "Server latency",
            "s",
            tuple(
                (
                    f"histogram_quantile({q}, sum by (le) (rate({server}_bucket{{{s}}}[{RATE}])))",
                    f"p{round(q * 100)}",
                )
                for q in (0.5, 0.99)
            ),
        ),
        Panel(
            "Dependency latency p99 by target",
            "s",
            (
                (
                    f"histogram_quantile(0.99, sum by (le, name, target) "
                    f"(rate({client}_bucket{{{s}}}[{RATE}])))",
                    "{{name}} {{target}}",
                ),
            ),
        ),
        Panel(
            "Circuit breaker state",
            "none",
            (
                (
                    f"max by (name, state) (seawall_circuit_breaker_state{{{s}}})",
                    "{{name}} {{state}}",
                ),
            ),
        ),
        Panel(
            "Circuit breaker transitions",
            "none",
            (
                (
                    f"sum by (name, from_state, to_state) "
                    f"(increase(seawall_circuit_breaker_transitions_total{{{s}}}[{RATE}]))",
                    "{{name}} {{from_state}} -> {{to_state}}",
                ),
            ),
        ),
        Panel(
            "Circuit breaker calls",
            "ops",
            (
                (
                    f"sum by (name, outcome) "
                    f"(rate(seawall_circuit_breaker_calls_total{{{s}}}[{RATE}]))",
                    "{{name}} {{outcome}}",
                ),
            ),
        ),
        Panel(
            "Retries by outcome",
            "ops",
            (
                (
                    f"sum by (name, outcome) (rate(seawall_retry_calls_total{{{s}}}[{RATE}]))",
                    "{{name}} {{outcome}}",
                ),
                (
                    f"sum by (name, attempt_type) "
                    f"(rate(seawall_retry_attempts_total{{{s}}}[{RATE}]))",
                    "{{name}} {{attempt_type}} attempts",
                ),
            ),
        ),
        Panel(
            "Retry budget used",
            "percentunit",
            (
                (
                    f"max by (name) (seawall_retry_budget_utilization_ratio{{{s}}})",
                    "{{name}}",
                ),
            ),
        ),
        Panel(
            "Bulkheads",
            "none",
            (
                (f"sum by (name) (seawall_bulkhead_in_flight{{{s}}})", "{{name}} in flight"),
                (f"sum by (name) (seawall_bulkhead_queued{{{s}}})", "{{name}} queued"),
                (f"sum by (name) (seawall_bulkhead_limit{{{s}}})", "{{name}} limit"),
                (
                    f"sum by (name, reason) "
                    f"(rate(seawall_bulkhead_rejections_total{{{s}}}[{RATE}]))",
                    "{{name}} rejected ({{reason}})",
                ),
            ),
        ),
        Panel(
            "Load shedding by priority",
            "reqps",
            (
                (
                    f"sum by (priority, decision) "
                    f"(rate(seawall_load_shedder_requests_total{{{s}}}[{RATE}]))",
                    "{{priority}} {{decision}}",
                ),
                (
                    f"sum by (name) (seawall_load_shedder_in_flight{{{s}}})",
                    "{{name}} in flight",
                ),
                (f"sum by (name) (seawall_load_shedder_limit{{{s}}})", "{{name}} limit"),
            ),
        ),
        Panel(
            "Timeouts and fallbacks",
            "ops",
            (
                (
                    f"sum by (name) (rate(seawall_timeouts_total{{{s}}}[{RATE}]))",
                    "{{name}} timeouts",
                ),
                (
                    f"sum by (name) (rate(seawall_fallbacks_total{{{s}}}[{RATE}]))",
                    "{{name}} fallbacks",
                ),
            ),
        ),
    )


def panel_queries(job: str, rate_interval: str = "1m") -> list[str]:
    """Every panel's PromQL with ``$__rate_interval`` set, ready for Prometheus's API."""
    return [
        expr.replace(RATE, rate_interval) for panel in panels(job) for expr, _legend in panel.exprs
    ]


def dashboard(service: str, job: str) -> dict[str, Any]:
    """Grafana dashboard JSON (schema 39) for ``service``, with a datasource variable."""
    datasource = {"type": "prometheus", "uid": "${datasource}"}
    grafana_panels: list[dict[str, Any]] = []
    for index, panel in enumerate(panels(job)):
        grafana_panels.append(
            {
                "id": index + 1,
                "type": "timeseries",
                "title": panel.title,
                "datasource": datasource,
                "gridPos": {"h": 8, "w": 12, "x": 12 * (index % 2), "y": 8 * (index // 2)},
                "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
                "targets": [
                    {
                        "refId": chr(ord("A") + n),
                        "datasource": datasource,
                        "expr": expr,
                        "legendFormat": legend,
                    }
                    for n, (expr, legend) in enumerate(panel.exprs)
                ],
            }
        )
    return {
        "title": f"{service} - seawall",
        "uid": f"seawall-{service}"[:40],
        "tags": ["seawall"],
        "schemaVersion": 39,
        "editable": True,
        "time": {"from": "now-1h", "to": "now"},
        "refresh": "30s",
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Prometheus",
                    "type": "datasource",
                    "query": "prometheus",
                }
            ]
        },
        "panels": grafana_panels,
    }


def dashboard_configmap(metadata: dict[str, Any], service: str, job: str) -> dict[str, Any]:
    """The dashboard in a ConfigMap labelled ``grafana_dashboard: "1"``, the label
    Grafana's dashboard sidecar (kube-prometheus-stack) loads dashboards from."""
    meta = dict(metadata)
    meta["name"] = f"{service}-dashboard"
    meta["labels"] = dict(metadata.get("labels", {})) | {"grafana_dashboard": "1"}
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta,
        "data": {f"{service}.json": json.dumps(dashboard(service, job), indent=1, sort_keys=True)},
    }
