"""``seawall kube lint``: read manifests, validate them strictly, run the checks.

Per-object suppression is an annotation on the object the finding is about::

    metadata:
      annotations:
        seawall.dev/ignore: "SW106,SW107"
        seawall.dev/ignore-reason: "batch consumer; one replica by design"

A suppression without a reason is not honoured (SW190 says so): an unexplained
exception is how a fleet drifts back into the failures these checks exist for.

Input that is a Helm chart's source rather than its output is refused with that reason:
a template that fails to parse as YAML, or parses but still holds Helm's own expressions
(``{{ .Values.x }}``, ``{{ include ... }}``), describes no object the cluster would see.
Go templates that rendered manifests legitimately carry (an Alertmanager message's
``{{ range .Alerts }}``) use none of Helm's names, so they are left alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import IO

from seawall._errors import ConfigError
from seawall._formats._yaml import Document, field_path, load_text, read_sources
from seawall.kube._checks import CHECKS, Context
from seawall.kube._config import LintConfig
from seawall.kube._objects import KubeObject, objects_of
from seawall.kube._rules import Finding, Severity, rule
from seawall.kube._schema import DEFAULT_VERSION, resolve_version, schema_errors

__all__ = ["IGNORE", "IGNORE_REASON", "LintResult", "lint", "lint_paths", "lint_text"]

IGNORE = "seawall.dev/ignore"
IGNORE_REASON = "seawall.dev/ignore-reason"
_TEMPLATE = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}")
_HELM = re.compile(
    r"^(\.Values|\.Release|\.Chart|\.Capabilities|\.Files|\.Template|\$\.Values)\b"
    r"|^(include|toYaml|tpl|required|default)\b"
)


def _template_line(text: str, helm_only: bool) -> tuple[int, str] | None:
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("#"):
            continue
        for match in _TEMPLATE.finditer(line):
            if not helm_only or _HELM.search(match[1]):
                return number, match[0]
    return None


def _documents(text: str, source: str) -> list[Document]:
    """The YAML documents of one source; an unrendered Helm template is unreadable input."""
    try:
        documents = load_text(text, source)
    except ConfigError as exc:
        found = _template_line(text, helm_only=False)
        if found is None:
            raise
        raise ConfigError(
            f"{source}:{found[0]}: unrendered template {found[1]!r}: lint the output of "
            "`helm template` (or your renderer), not the chart's source"
        ) from exc
    found = _template_line(text, helm_only=True)
    if found is not None:
        raise ConfigError(
            f"{source}:{found[0]}: unrendered Helm template {found[1]!r}: lint the output "
            "of `helm template`, not the chart's source"
        )
    return documents


@dataclass(frozen=True)
class LintResult:
    """Findings in file/line order; ``objects`` counts what was linted."""

    findings: tuple[Finding, ...]
    objects: int

    @property
    def active(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.suppressed is None)

    @property
    def exit_code(self) -> int:
        return 1 if any(f.severity is Severity.ERROR for f in self.active) else 0


def _schema_findings(obj: KubeObject, version: tuple[int, int]) -> Iterable[Finding]:
    for path, message in schema_errors(obj.data, version) or ():
        where = field_path(path) or "(object)"
        yield obj.finding("SW100", f"{where}: {message}", path)


def _suppressions(obj: KubeObject) -> tuple[dict[str, str], list[Finding]]:
    """IDs this object suppresses (with the reason), and findings about the annotation."""
    raw = obj.annotations.get(IGNORE)
    if not isinstance(raw, str) or not raw.strip():
        return {}, []
    reason = obj.annotations.get(IGNORE_REASON)
    path = ("metadata", "annotations", IGNORE)
    if not isinstance(reason, str) or not reason.strip():
        return {}, [obj.finding("SW190", f"{IGNORE}={raw!r} has no {IGNORE_REASON}", path)]
    ids: dict[str, str] = {}
    problems: list[Finding] = []
    for token in filter(None, (t.strip() for t in raw.split(","))):
        found = rule(token)
        if found is None:
            problems.append(obj.finding("SW190", f"{IGNORE} names unknown check {token!r}", path))
        else:
            ids[found.id] = reason.strip()
    return ids, problems


def lint(
    objects: Sequence[KubeObject],
    *,
    config: LintConfig | None = None,
    kubernetes_version: str = DEFAULT_VERSION,
) -> LintResult:
    """Lint objects read together (cross-object checks see all of them)."""
    config = config or LintConfig()
    version = resolve_version(kubernetes_version)
    ctx = Context(list(objects), version)
    findings: list[Finding] = []
    for obj in objects:
        ignored, problems = _suppressions(obj)
        raw: list[Finding] = [*problems, *_schema_findings(obj, version)]
        for check in CHECKS:
            raw.extend(check(obj, ctx))
        for finding in raw:
            if finding.rule_id in config.disabled:
                continue
            severity = config.severity(finding.rule_id, finding.severity)
            findings.append(
                replace(finding, severity=severity, suppressed=ignored.get(finding.rule_id))
            )
    findings.sort(key=lambda f: (f.source, f.line, f.rule_id, f.message))
    return LintResult(tuple(findings), len(objects))


def lint_text(
    text: str,
    source: str = "<string>",
    *,
    config: LintConfig | None = None,
    kubernetes_version: str = DEFAULT_VERSION,
) -> LintResult:
    """Lint one multi-document YAML text; unreadable input raises ConfigError."""
    objects = [o for doc in _documents(text, source) for o in objects_of(doc)]
    return lint(objects, config=config, kubernetes_version=kubernetes_version)


def lint_paths(
    paths: Sequence[str],
    *,
    config: LintConfig | None = None,
    kubernetes_version: str = DEFAULT_VERSION,
    stdin: IO[str] | None = None,
) -> LintResult:
    """Lint files, directories (every .yaml/.yml/.json below) and ``-`` (stdin) together."""
    resolve_version(kubernetes_version)  # fail on a bad version before reading anything
    objects = [
        o
        for source, text in read_sources(paths, stdin)
        for doc in _documents(text, source)
        for o in objects_of(doc)
    ]
    return lint(objects, config=config, kubernetes_version=kubernetes_version)
