"""The game day's operator-error step: check both shops' configuration before deploying.

Operator error is the failure mode no load test reaches: a timeout longer than its
caller's, retries that multiply at every layer, a Deployment without probes or a PDB. The
cheapest defence runs before deploy: ``seawall budget check`` on each shop's call graph
and ``seawall kube lint`` on its manifests. The naive shop is written the way services
usually are (httpx's 5 s default under a 2 s budget, 3 attempts everywhere, a bare
Deployment); the seawall shop's graph is its real settings and its manifests come from
``seawall kube generate``.

Two guards then act at deploy time, for real: ``seawall canary judge`` stops the
rollout of a bad version, and :mod:`seawall.sqlguard` refuses the DELETE with no WHERE
(see :mod:`seawall.gameday._rollout`).
"""

from __future__ import annotations

import importlib.util
import tempfile
from dataclasses import dataclass
from pathlib import Path

from seawall.gameday._rollout import STATEMENTS, canary_rollouts, sql_statements
from seawall.kube import check_budget, generate, lint_text, load_graph, spec_from_text, to_yaml

__all__ = ["Check", "operator_checks"]

NAIVE_GRAPH = """\
services:
  gateway:
    budget: 2
    calls:
      - {service: catalog, timeout: 5, attempts: 3, backoff: [0.1]}
      - {service: recommendations, timeout: 5, attempts: 3, backoff: [0.1]}
      - {service: payments, timeout: 5, attempts: 3, backoff: [0.1]}
  catalog:
    budget: 5
    calls:
      - {service: postgres, timeout: 5, attempts: 3, backoff: [0.1]}
  recommendations: {budget: 5}
  payments: {budget: 5}
"""

SEAWALL_GRAPH = """\
services:
  gateway:
    budget: 2
    calls:
      - service: catalog
        timeout: 0.5
        attempts: 3
        backoff: {initial: 0.05, multiplier: 2, maximum: 0.4, jitter: 0.2}
        retry_budget: 0.1
      - {service: recommendations, timeout: 0.3, attempts: 1}
      - service: payments
        timeout: 0.5
        attempts: 3
        backoff: {initial: 0.05, multiplier: 2, maximum: 0.4, jitter: 0.2}
        retry_budget: 0.5
  catalog:
    budget: 0.45
    calls:
      - {service: postgres, timeout: 0.15, attempts: 2, backoff: [0.05], retry_budget: 0.1}
  recommendations: {budget: 0.27}
  payments: {budget: 0.45}
"""

NAIVE_MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: gateway, namespace: shop}
spec:
  replicas: 1
  selector: {matchLabels: {app: gateway}}
  template:
    metadata: {labels: {app: gateway}}
    spec:
      containers:
        - name: gateway
          image: shop/gateway:latest
          ports: [{containerPort: 8080}]
"""

SEAWALL_SPEC = """\
name: gateway
namespace: shop
image: ghcr.io/shop/gateway:1.4.2
port: 8080
replicas: 3
drain_seconds: 5
shutdown_seconds: 20
"""


@dataclass(frozen=True)
class Check:
    """One check run on both shops: error/warning counts and the naive shop's rule IDs."""

    name: str
    naive_errors: int
    naive_warnings: int
    seawall_errors: int
    seawall_warnings: int
    naive_rules: tuple[str, ...]
    detail: str = ""


def _counts(findings: tuple[object, ...]) -> tuple[int, int, tuple[str, ...]]:
    errors = [f for f in findings if str(getattr(f, "severity", "")).endswith("error")]
    warnings = [f for f in findings if str(getattr(f, "severity", "")).endswith("warning")]
    rules = tuple(sorted({str(getattr(f, "rule_id", "")) for f in findings}))
    return len(errors), len(warnings), rules


def _canary_check(seed: int) -> Check:
    rollouts = canary_rollouts(seed)
    # A rollout without a judge promotes every version, the bad one included.
    naive = sum(r.bad for r in rollouts)
    wrong = sum(not r.correct for r in rollouts)
    verdicts = []
    for r in rollouts:
        error = next(m for m in r.judgement.metrics if m.metric == "error_ratio")
        p = 1.0 if error.p_value is None else error.p_value
        verdicts.append(
            f"{r.canary}: {r.judgement.verdict} (errors {error.canary_mean or 0:.1%} vs "
            f"{error.baseline_mean or 0:.1%}, p={p:.2g})"
        )
    return Check(
        "seawall canary judge (bad version rollout)",
        naive,
        0,
        wrong,
        0,
        ("bad-version-promoted",) if naive else (),
        "; ".join(verdicts),
    )


def _sql_check() -> Check:
    raw, guarded = sql_statements()
    return Check(
        "seawall.sqlguard (DELETE with no WHERE)",
        len(raw),
        0,
        len(guarded),
        0,
        tuple(raw),
        f"raw connection lost rows to {len(raw)} of {len(STATEMENTS)} statements; "
        f"guarded: {len(guarded)}",
    )


def operator_checks(seed: int = 0) -> list[Check]:
    """Budget check and manifest lint of the naive and the seawall shop, then the
    canary judge and the SQL guard at deploy time."""
    with tempfile.TemporaryDirectory(prefix="seawall-operator-") as tmp:
        budgets = []
        for name, text in (("naive", NAIVE_GRAPH), ("seawall", SEAWALL_GRAPH)):
            path = Path(tmp) / f"{name}-graph.yaml"
            path.write_text(text)
            budgets.append(check_budget(load_graph([str(path)])).findings)
    naive_lint = lint_text(NAIVE_MANIFEST, "naive/gateway.yaml").active
    generated = to_yaml(generate(spec_from_text(SEAWALL_SPEC, "seawall/gateway.spec.yaml")))
    seawall_lint = lint_text(generated, "seawall/gateway.yaml").active
    checks = []
    for name, naive, ours in (
        ("seawall budget check (timeouts going down)", budgets[0], budgets[1]),
        ("seawall kube lint (manifests)", naive_lint, seawall_lint),
    ):
        ne, nw, rules = _counts(tuple(naive))
        se, sw, _ = _counts(tuple(ours))
        checks.append(Check(name, ne, nw, se, sw, rules))
    checks.append(_canary_check(seed))
    if importlib.util.find_spec("sqlglot") is not None:  # the ``sql`` extra
        checks.append(_sql_check())
    return checks
