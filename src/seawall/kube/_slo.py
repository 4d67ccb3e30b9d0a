"""SLO burn-rate rules: recording rules and multi-window, multi-burn-rate alerts.

An SLO of 99.9 % over 30 days leaves an error budget of 0.1 % of requests. The burn rate
is how fast that budget goes: at 1 the budget lasts exactly the 30 days, at 14.4 it is
gone in two days. The SRE workbook pages when the last hour burned at 14.4 (2 % of the
budget gone) or the last six hours at 6 (5 % gone), and opens a ticket when the last
three days burned at 1 (10 % gone). Each long window is paired with a short one a
twelfth its length, so an alert stops soon after the burn stops instead of an hour later.

The rules follow Sloth's layout, so dashboards and habits built for Sloth carry over:
one recording rule ``slo:sli_error:ratio_rate<window>`` per window, metadata rules
(``slo:objective:ratio``, ``slo:error_budget:ratio``, ``slo:current_burn_rate:ratio``,
``slo:period_burn_rate:ratio``, ``slo:period_error_budget_remaining:ratio``), labelled
``seawall_service``, ``seawall_slo`` and ``seawall_window``.

The SLIs come from the server edge's ``http_server_request_duration_seconds`` histogram:
availability counts 5xx answers as errors; latency counts answers slower than a bucket
boundary as errors.

::

    slo:
      job: checkout                          # the pods' Prometheus job label; default the name
      availability: 99.9                     # percent of requests answered without a 5xx
      latency: {objective: 99, threshold: 0.25}  # percent answered within 0.25 s
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from seawall.kube._graph import Reader

__all__ = [
    "BURN_RATE_ALERTS",
    "LATENCY_BUCKETS",
    "SERVER_DURATION",
    "BurnRateAlert",
    "Objective",
    "SLOSpec",
    "alert_name",
    "parse_slo",
    "prometheus_rule",
    "rule_groups",
]

SERVER_DURATION = "http_server_request_duration_seconds"
# The OpenTelemetry HTTP semantic conventions' advised boundaries for
# http.server.request.duration: a latency threshold must be one of them, because a
# histogram can only say how many requests were faster than one of its own boundaries.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
PERIOD_DAYS = 30
_JOB = re.compile(r"^[A-Za-z0-9_.:/-]{1,200}$")


@dataclass(frozen=True)
class BurnRateAlert:
    """One row of the SRE workbook's table for a 30-day SLO."""

    severity: str
    long_window: str
    short_window: str
    burn_rate: float


BURN_RATE_ALERTS = (
    BurnRateAlert("page", "1h", "5m", 14.4),
    BurnRateAlert("page", "6h", "30m", 6.0),
    BurnRateAlert("ticket", "3d", "6h", 1.0),
)
_WINDOWS = ("5m", "30m", "1h", "6h", "3d")


@dataclass(frozen=True)
class Objective:
    """``slo`` is ``availability`` or ``latency``; ``target`` a percentage, kept exact."""

    slo: str
    target: Decimal
    threshold: float | None = None

    @property
    def error_budget(self) -> str:
        """The allowed error ratio as an exact decimal (99.9 -> ``0.001``)."""
        return _decimal((Decimal(100) - self.target) / Decimal(100))


@dataclass(frozen=True)
class SLOSpec:
    job: str
    objectives: tuple[Objective, ...]


def _decimal(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def _target(reader: Reader, raw: Any, path: tuple[str, ...]) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise reader.fail(path, f"{raw!r} must be a percentage such as 99.9")
    try:
        target = Decimal(str(raw))
    except InvalidOperation:
        raise reader.fail(path, f"{raw!r} must be a percentage such as 99.9") from None
    if not target.is_finite() or not Decimal(0) < target < Decimal(100):
        raise reader.fail(
            path, f"{raw!r} must be a percentage strictly between 0 and 100 (e.g. 99.9)"
        )
    if target < Decimal(50):
        raise reader.fail(
            path, f"{raw!r} is a percentage of good requests; an objective under 50 is a typo"
        )
    return target


def parse_slo(reader: Reader, raw: Any, name: str) -> SLOSpec | None:
    """The ``slo:`` section of a spec, or None when absent; bad objectives fail here."""
    if raw is None:
        return None
    keys = {"job", "availability", "latency"}
    if not isinstance(raw, dict):
        raise reader.fail(("slo",), "must be a mapping of 'availability' and/or 'latency'")
    unknown = sorted(set(raw) - keys)
    if unknown:
        raise reader.fail(("slo", unknown[0]), f"unknown key; expected one of {sorted(keys)}")
    job = raw.get("job", name)
    if not isinstance(job, str) or not _JOB.match(job):
        raise reader.fail(("slo", "job"), f"{job!r} is not a Prometheus job label value")
    objectives: list[Objective] = []
    if raw.get("availability") is not None:
        objectives.append(
            Objective("availability", _target(reader, raw["availability"], ("slo", "availability")))
        )
    latency = raw.get("latency")
    if latency is not None:
        if not isinstance(latency, dict) or set(latency) != {"objective", "threshold"}:
            raise reader.fail(
                ("slo", "latency"), "must be {objective: PERCENT, threshold: SECONDS}"
            )
        threshold = reader.seconds(latency["threshold"], ("slo", "latency", "threshold"))
        if threshold not in LATENCY_BUCKETS:
            raise reader.fail(
                ("slo", "latency", "threshold"),
                f"{threshold:g} s is not a bucket boundary of {SERVER_DURATION}; "
                f"use one of {', '.join(f'{b:g}' for b in LATENCY_BUCKETS)}",
            )
        objectives.append(
            Objective(
                "latency",
                _target(reader, latency["objective"], ("slo", "latency", "objective")),
                threshold,
            )
        )
    if not objectives:
        raise reader.fail(("slo",), "needs an 'availability' or a 'latency' objective")
    return SLOSpec(job=job, objectives=tuple(objectives))


def _le(threshold: float) -> str:
    """Prometheus clients spell a boundary differently (Go: ``1``, Python: ``1.0``)."""
    short = f"{threshold:g}"
    spellings = [short] if "." in short else [short, f"{short}.0"]
    # A PromQL string escapes the regex's backslash in turn.
    return "|".join(re.escape(s).replace("\\", "\\\\") for s in spellings)


def _error_ratio(job: str, objective: Objective, window: str) -> str:
    total = f'sum(rate({SERVER_DURATION}_count{{job="{job}"}}[{window}]))'
    if objective.slo == "availability":
        errors = (
            f"sum(rate({SERVER_DURATION}_count"
            f'{{job="{job}",http_response_status_code=~"5.."}}[{window}]))'
        )
        # No 5xx series at all is a ratio of 0, not an absent SLI.
        return f"(({errors}) or vector(0))\n/\n{total}"
    assert objective.threshold is not None
    fast = (
        f"sum(rate({SERVER_DURATION}_bucket"
        f'{{job="{job}",le=~"{_le(objective.threshold)}"}}[{window}]))'
    )
    return f"1 - (\n  {fast}\n  /\n  {total}\n)"


def _labels(service: str, objective: Objective) -> dict[str, str]:
    return {"seawall_service": service, "seawall_slo": objective.slo}


def _selector(labels: dict[str, str]) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def alert_name(objective: Objective) -> str:
    """``SLOAvailabilityErrorBudgetBurn`` or ``SLOLatencyErrorBudgetBurn``."""
    return f"SLO{objective.slo.capitalize()}ErrorBudgetBurn"


def rule_groups(service: str, slo: SLOSpec) -> list[dict[str, Any]]:
    """The Prometheus rule groups for every objective of ``slo`` (``promtool``-checkable)."""
    groups: list[dict[str, Any]] = []
    for objective in slo.objectives:
        labels = _labels(service, objective)
        selector = _selector(labels)
        budget = objective.error_budget
        recordings: list[dict[str, Any]] = [
            {
                "record": f"slo:sli_error:ratio_rate{window}",
                "expr": _error_ratio(slo.job, objective, window),
                "labels": labels | {"seawall_window": window},
            }
            for window in _WINDOWS
        ]
        period = f"{PERIOD_DAYS}d"
        recordings.append(
            {
                # The 30-day ratio averages the 5-minute one, as Sloth does: a raw
                # rate over 30 days would read a month of samples at every evaluation.
                "record": f"slo:sli_error:ratio_rate{period}",
                "expr": (
                    f"sum_over_time(slo:sli_error:ratio_rate5m{selector}[{period}])\n"
                    f"/ ignoring (seawall_window)\n"
                    f"count_over_time(slo:sli_error:ratio_rate5m{selector}[{period}])"
                ),
                "labels": labels | {"seawall_window": period},
            }
        )
        meta = [
            ("slo:objective:ratio", f"vector({_decimal(objective.target / Decimal(100))})"),
            ("slo:error_budget:ratio", f"vector({budget})"),
            ("slo:time_period:days", f"vector({PERIOD_DAYS})"),
            (
                "slo:current_burn_rate:ratio",
                f"slo:sli_error:ratio_rate5m{selector}\n/ on (seawall_service, seawall_slo)"
                f" group_left\nslo:error_budget:ratio{selector}",
            ),
            (
                "slo:period_burn_rate:ratio",
                f"slo:sli_error:ratio_rate{period}{selector}\n/ on (seawall_service, seawall_slo)"
                f" group_left\nslo:error_budget:ratio{selector}",
            ),
            (
                "slo:period_error_budget_remaining:ratio",
                f"1 - slo:period_burn_rate:ratio{selector}",
            ),
        ]
        alerts: list[dict[str, Any]] = []
        for row in BURN_RATE_ALERTS:
            limit = f"({row.burn_rate:g} * {budget})"
            alerts.append(
                {
                    "alert": alert_name(objective),
                    "expr": (
                        f"max(slo:sli_error:ratio_rate{row.long_window}{selector} > {limit})"
                        " without (seawall_window)\nand\n"
                        f"max(slo:sli_error:ratio_rate{row.short_window}{selector} > {limit})"
                        " without (seawall_window)"
                    ),
                    "labels": labels
                    | {
                        "severity": row.severity,
                        "long_window": row.long_window,
                        "short_window": row.short_window,
                    },
                    "annotations": {
                        "summary": (
                            f"{service}: {objective.slo} error budget burning at over "
                            f"{row.burn_rate:g}x"
                        ),
                        "description": (
                            f"The {objective.slo} SLO of {objective.target}% over "
                            f"{PERIOD_DAYS} days burned its error budget at over "
                            f"{row.burn_rate:g}x for both the last {row.long_window} "
                            f"and the last {row.short_window}."
                        ),
                    },
                }
            )
        prefix = f"seawall-slo-{service}-{objective.slo}"
        groups += [
            {"name": f"{prefix}-sli-recordings", "rules": recordings},
            {
                "name": f"{prefix}-meta-recordings",
                "rules": [{"record": r, "expr": e, "labels": dict(labels)} for r, e in meta],
            },
            {"name": f"{prefix}-alerts", "rules": alerts},
        ]
    return groups


def prometheus_rule(metadata: dict[str, Any], service: str, slo: SLOSpec) -> dict[str, Any]:
    """The Prometheus Operator's ``PrometheusRule`` holding :func:`rule_groups`."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": metadata,
        "spec": {"groups": rule_groups(service, slo)},
    }
