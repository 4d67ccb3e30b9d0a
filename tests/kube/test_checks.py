"""Every check ID has a real failing manifest and a passing one; each fixture names
exactly the findings it must produce in its ``# expect:`` line."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from seawall.kube import RULES, LintConfig, Severity, lint, lint_text
from seawall.kube._rules import LINT_RULES
from tests.kube.conftest import CHECKS, GOOD

FIXTURES = sorted(CHECKS.glob("*.yaml"))


def _expected(path: Path) -> Counter[str]:
    line = path.read_text().splitlines()[1]
    assert line.startswith("# expect: "), path
    ids = line.removeprefix("# expect: ").strip()
    return Counter() if ids == "none" else Counter(ids.split(","))


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_fixture_produces_exactly_its_expected_findings(path: Path) -> None:
    result = lint([str(path)])
    assert Counter(f.rule_id for f in result.active) == _expected(path)
    errors = any(RULES[i].severity is Severity.ERROR for i in _expected(path))
    assert result.exit_code == (1 if errors else 0)


def test_every_lint_check_has_a_failing_and_a_passing_fixture() -> None:
    failing = {i for p in FIXTURES for i in _expected(p)}
    assert failing == {r.id for r in LINT_RULES}
    passing_named = {p.stem.split("-")[0] for p in FIXTURES if "-pass" in p.stem}
    # Checks without a dedicated pass fixture pass on good.yaml, the base of every fixture.
    assert passing_named <= failing


def test_the_base_manifest_is_clean() -> None:
    result = lint([str(GOOD)])
    assert result.findings == ()
    assert result.objects == 4
    assert result.exit_code == 0


def test_findings_point_at_the_offending_line() -> None:
    text = (CHECKS / "SW113-fail-latest.yaml").read_text()
    [finding] = lint([str(CHECKS / "SW113-fail-latest.yaml")]).findings
    assert "image: ghcr.io/shop/web:latest" in text.splitlines()[finding.line - 1]
    assert finding.field == "spec.template.spec.containers[0].image"
    assert finding.resource == "Deployment/shop/web"


def test_schema_findings_name_the_field_path_and_line() -> None:
    path = CHECKS / "SW100-fail.yaml"
    lines = path.read_text().splitlines()
    findings = sorted(lint([str(path)]).findings, key=lambda f: f.field)
    assert [f.field for f in findings] == [
        "spec.replicas",
        "spec.template.spec.containers[0].readinessTimeout",
    ]
    assert "replicas: three" in lines[findings[0].line - 1]
    assert "readinessTimeout" in lines[findings[1].line - 1]
    assert "unknown field 'readinessTimeout'" in findings[1].message


def test_schema_validation_follows_the_kubernetes_version() -> None:
    # The native preStop sleep handler appeared in 1.29: 1.28's strict schema rejects it.
    text = GOOD.read_text()
    assert lint_text(text, kubernetes_version="1.29").findings == ()
    [finding] = lint_text(text, kubernetes_version="1.28").findings
    assert finding.rule_id == "SW100"
    assert finding.field.endswith("lifecycle.preStop.sleep")


def test_an_honoured_suppression_keeps_the_finding_with_its_reason() -> None:
    result = lint([str(CHECKS / "SW190-pass-suppressed.yaml")])
    [finding] = result.findings
    assert finding.rule_id == "SW106"
    assert finding.suppressed == "singleton leader; a second replica would double-process"
    assert result.active == ()


def test_suppression_names_an_unknown_check() -> None:
    text = GOOD.read_text().replace(
        "  namespace: shop\nspec:\n  selector:",
        "  namespace: shop\n  annotations:\n    seawall.dev/ignore: SW999\n"
        "    seawall.dev/ignore-reason: typo\nspec:\n  selector:",
        1,
    )
    [finding] = lint_text(text).findings
    assert finding.rule_id == "SW190"
    assert "SW999" in finding.message


def test_config_disables_checks_and_changes_severities() -> None:
    path = str(CHECKS / "SW113-fail-latest.yaml")
    assert lint([path], config=LintConfig(disabled=frozenset({"SW113"}))).findings == ()
    promoted = lint([path], config=LintConfig(severities={"SW113": Severity.ERROR}))
    assert [f.severity for f in promoted.findings] == [Severity.ERROR]
    assert promoted.exit_code == 1


def test_a_cronjob_is_not_held_to_served_workload_checks() -> None:
    text = """
apiVersion: batch/v1
kind: CronJob
metadata: {name: report}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          automountServiceAccountToken: false
          securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
          containers:
            - name: report
              image: ghcr.io/shop/reports:1.0.0
              securityContext:
                allowPrivilegeEscalation: false
                readOnlyRootFilesystem: true
                capabilities: {drop: [ALL]}
              ports: [{containerPort: 9090}]
              resources: {requests: {cpu: 1, memory: 1Gi}, limits: {memory: 1Gi}}
"""
    assert lint_text(text).findings == ()


def test_checks_read_a_kind_list_and_report_item_lines() -> None:
    text = (
        "apiVersion: v1\nkind: List\nitems:\n"
        "  - apiVersion: v1\n    kind: Pod\n    metadata: {name: a}\n    spec:\n"
        "      containers:\n        - name: a\n          image: busybox\n"
        "          resources: {requests: {cpu: 1m, memory: 1Mi}, limits: {memory: 1Mi}}\n"
    )
    [finding] = [f for f in lint_text(text).findings if f.rule_id == "SW113"]
    assert (finding.rule_id, finding.line, finding.resource) == ("SW113", 10, "Pod/default/a")


def test_a_removed_api_points_at_the_field_to_change() -> None:
    [typo] = lint([str(CHECKS / "SW100-fail-kind-typo.yaml")]).findings
    assert (typo.field, typo.line) == ("kind", 4)
    assert typo.message.endswith("did you mean 'Deployment'?")
    [removed] = lint([str(CHECKS / "SW100-fail-apps-v1beta1.yaml")]).findings
    assert (removed.field, removed.line) == ("apiVersion", 3)
    assert "use apps/v1" in removed.message
