"""Platform checks: Kubernetes manifest generation and lint, and a timeout-budget checker.

The cheapest defence against operator error is a check before deploy:

* :func:`generate` writes seawall's Kubernetes defaults (probes on seawall's health
  endpoints, requests and limits, a rolling update that never loses capacity, a preStop
  drain and a grace period that covers the shutdown budget, a PDB, an HPA, spreading)
  from a short :class:`Spec`;
* :func:`lint` checks manifests - strict schema included - and returns :class:`Finding`
  objects with stable IDs (``docs/kube.md`` lists them);
* :func:`check_budget` checks "always shorter going down", retries counted, and the
  worst-case load amplification of every call path;
* :func:`dashboard` and :func:`panel_queries` give the Grafana dashboard ``generate``
  writes and its PromQL; :func:`slo_rule_groups` the burn-rate rules of a spec's ``slo:``.

Needs the ``seawall[kube]`` extra (PyYAML, kubernetes-validate).
"""

from __future__ import annotations

from seawall.kube._budget import BudgetReport, EdgeReport, PathReport, check_budget
from seawall.kube._config import LintConfig, load_config
from seawall.kube._dashboard import dashboard, panel_queries
from seawall.kube._generate import generate, to_yaml
from seawall.kube._graph import Call, Graph, Service, load_graph
from seawall.kube._lint import LintResult, lint_text
from seawall.kube._lint import lint_paths as lint
from seawall.kube._rules import RULES, Finding, Rule, Severity
from seawall.kube._slo import rule_groups as slo_rule_groups
from seawall.kube._spec import Spec, spec_from_text

__all__ = [
    "RULES",
    "BudgetReport",
    "Call",
    "EdgeReport",
    "Finding",
    "Graph",
    "LintConfig",
    "LintResult",
    "PathReport",
    "Rule",
    "Service",
    "Severity",
    "Spec",
    "check_budget",
    "dashboard",
    "generate",
    "lint",
    "lint_text",
    "load_config",
    "load_graph",
    "panel_queries",
    "slo_rule_groups",
    "spec_from_text",
    "to_yaml",
]
