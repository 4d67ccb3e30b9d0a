"""Check IDs, severities and findings, shared by ``kube lint`` and ``budget check``.

IDs are stable: tools, suppressions and SARIF baselines refer to them, so a check may be
reworded or refined but never renumbered, and new rules go at the end of their tuple so
each rule keeps its SARIF ``ruleIndex``. ``error`` means the setting drops requests or
blocks operations during routine events (deploys, node drains, a slow dependency);
``warning`` weakens resilience against rarer ones; ``info`` is advice.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["BUDGET_RULES", "LINT_RULES", "RULES", "Finding", "Rule", "Severity", "rule"]


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    severity: Severity
    summary: str


LINT_RULES: tuple[Rule, ...] = (
    Rule(
        "SW100",
        "schema-invalid",
        Severity.ERROR,
        "the object does not validate against the strict Kubernetes schema",
    ),
    Rule(
        "SW101",
        "readiness-probe-missing",
        Severity.ERROR,
        "a serving container has no readinessProbe: traffic reaches pods before they can serve",
    ),
    Rule(
        "SW102",
        "liveness-probe-missing",
        Severity.WARNING,
        "a serving container has no livenessProbe: a hung process is never restarted",
    ),
    Rule(
        "SW103",
        "liveness-same-as-readiness",
        Severity.ERROR,
        "livenessProbe checks what readinessProbe checks and fails no later: a slow "
        "dependency restarts every pod instead of taking them out of rotation",
    ),
    Rule(
        "SW104",
        "requests-missing",
        Severity.ERROR,
        "a container has no cpu or memory request: scheduling and autoscaling are guesses",
    ),
    Rule(
        "SW105",
        "memory-limit-missing",
        Severity.ERROR,
        "a container has no memory limit: one leak can starve the whole node",
    ),
    Rule(
        "SW106",
        "too-few-replicas",
        Severity.ERROR,
        "a served workload runs fewer than 2 replicas: any restart or drain is an outage",
    ),
    Rule(
        "SW107",
        "pdb-missing",
        Severity.WARNING,
        "no PodDisruptionBudget selects the workload: a drain may evict all replicas at once",
    ),
    Rule(
        "SW108",
        "pdb-blocks-eviction",
        Severity.ERROR,
        "the PodDisruptionBudget allows no voluntary eviction: node drains and upgrades hang",
    ),
    Rule(
        "SW109",
        "hpa-min-replicas",
        Severity.ERROR,
        "the HorizontalPodAutoscaler may scale below 2 replicas, or to no more than the "
        "PDB's minAvailable",
    ),
    Rule(
        "SW110",
        "rollout-strategy",
        Severity.ERROR,
        "the update strategy is not a rolling update that can make progress",
    ),
    Rule(
        "SW111",
        "prestop-missing",
        Severity.WARNING,
        "a serving container has no preStop hook: it stops before endpoints stop routing to it",
    ),
    Rule(
        "SW112",
        "grace-period-too-short",
        Severity.ERROR,
        "terminationGracePeriodSeconds is shorter than preStop plus the app's shutdown budget",
    ),
    Rule(
        "SW113",
        "image-tag-mutable",
        Severity.WARNING,
        "the image has no tag, or the tag 'latest': rollouts and rollbacks are not repeatable",
    ),
    Rule(
        "SW114",
        "spread-missing",
        Severity.WARNING,
        "neither topologySpreadConstraints nor pod anti-affinity: replicas may share a node",
    ),
    Rule(
        "SW115",
        "selector-mismatch",
        Severity.ERROR,
        "the selector does not select the pod template's labels",
    ),
    Rule(
        "SW190",
        "ignore-without-reason",
        Severity.WARNING,
        "a seawall.dev/ignore annotation has no seawall.dev/ignore-reason; it is not honoured",
    ),
    Rule(
        "SW116",
        "replicas-with-hpa",
        Severity.ERROR,
        "a workload an HPA scales also sets spec.replicas: every apply resets the count the "
        "HPA chose, dropping capacity under load",
    ),
    Rule(
        "SW117",
        "spread-selects-other-pods",
        Severity.WARNING,
        "a topology spread constraint or pod anti-affinity term does not select the "
        "workload's own pods (or namespace): it spreads nothing",
    ),
    Rule(
        "SW118",
        "pdb-unhealthy-eviction-policy",
        Severity.WARNING,
        "the PodDisruptionBudget sets no unhealthyPodEvictionPolicy: crash-looping pods count "
        "against it and can block node drains",
    ),
    Rule(
        "SW119",
        "run-as-root",
        Severity.WARNING,
        "a container may run as root: runAsNonRoot is not true (Pod Security restricted)",
    ),
    Rule(
        "SW120",
        "privilege-escalation-allowed",
        Severity.WARNING,
        "a container does not set allowPrivilegeEscalation: false (Pod Security restricted)",
    ),
    Rule(
        "SW121",
        "capabilities-not-dropped",
        Severity.WARNING,
        "a container does not drop ALL capabilities (Pod Security restricted)",
    ),
    Rule(
        "SW122",
        "seccomp-profile-missing",
        Severity.WARNING,
        "a container runs without the RuntimeDefault (or a Localhost) seccomp profile "
        "(Pod Security restricted)",
    ),
    Rule(
        "SW123",
        "service-account-token-mounted",
        Severity.WARNING,
        "the pod mounts a service account token it may not need: "
        "automountServiceAccountToken is not false",
    ),
    Rule(
        "SW124",
        "root-filesystem-writable",
        Severity.WARNING,
        "a container's root filesystem is writable: readOnlyRootFilesystem is not true",
    ),
)

BUDGET_RULES: tuple[Rule, ...] = (
    Rule(
        "SW201",
        "budget-exceeded",
        Severity.ERROR,
        "a call's attempts, attempt timeouts and backoff sleeps exceed what the caller's "
        "budget leaves after its reserve",
    ),
    Rule(
        "SW202",
        "downstream-outlives-caller",
        Severity.WARNING,
        "the callee's own budget is longer than the caller waits for one attempt",
    ),
    Rule(
        "SW203",
        "amplification-too-high",
        Severity.ERROR,
        "worst-case load amplification along a call path is above the threshold",
    ),
    Rule(
        "SW204",
        "call-cycle",
        Severity.ERROR,
        "the call graph has a cycle: retries along it amplify without bound",
    ),
)

RULES: dict[str, Rule] = {r.id: r for r in (*LINT_RULES, *BUDGET_RULES)}
_BY_NAME: dict[str, Rule] = {r.name: r for r in RULES.values()}


def rule(id_or_name: str) -> Rule | None:
    """A rule by ID (``SW101``) or name (``readiness-probe-missing``), case-insensitive."""
    text = id_or_name.strip()
    return RULES.get(text.upper()) or _BY_NAME.get(text.lower())


@dataclass(frozen=True)
class Finding:
    """One problem at one place: what, how bad, where (file, line, object, field)."""

    rule_id: str
    severity: Severity
    message: str
    source: str
    line: int
    resource: str = ""  # the object, e.g. Deployment/shop/web, or a call graph edge
    field: str = ""
    suppressed: str | None = None  # the recorded reason, when an annotation suppressed it

    @property
    def rule(self) -> Rule:
        return RULES[self.rule_id]

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "id": self.rule_id,
            "name": self.rule.name,
            "severity": str(self.severity),
            "message": self.message,
            "file": self.source,
            "line": self.line,
            "object": self.resource,
            "field": self.field,
        }
        if self.suppressed is not None:
            out["suppressed"] = self.suppressed
        return out
