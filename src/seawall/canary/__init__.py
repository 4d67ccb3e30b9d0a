"""Canary analysis: stop a bad deploy before it reaches everyone.

:func:`judge` compares a canary with its baseline metric by metric (error ratio, p50 and
p99 latency of ``http_server_request_duration_seconds``) with the Mann-Whitney U test,
as Kayenta does, and says promote or roll back. The samples come from Prometheus
(:func:`from_prometheus`) or straight from the services' ``/metrics``
(:func:`from_metrics`). :func:`judge_server` answers Argo Rollouts' web metric and
Flagger's webhooks; ``seawall canary judge`` exits 0 to promote and 1 to roll back.
"""

from __future__ import annotations

from seawall.canary._exposition import ExpositionError
from seawall.canary._judge import CRITERIA, Criterion, Judgement, MetricResult, judge
from seawall.canary._serve import JudgeServer, judge_server
from seawall.canary._sources import SourceError, from_metrics, from_prometheus, queries
from seawall.canary._stats import MannWhitney, mann_whitney_u

__all__ = [
    "CRITERIA",
    "Criterion",
    "ExpositionError",
    "JudgeServer",
    "Judgement",
    "MannWhitney",
    "MetricResult",
    "SourceError",
    "from_metrics",
    "from_prometheus",
    "judge",
    "judge_server",
    "mann_whitney_u",
    "queries",
]
