"""SARIF 2.1.0, the format code-scanning UIs (GitHub, GitLab, VS Code) read.

Only what those consumers use: one run, the tool's rules with their default levels, and
one result per finding with a real file and line. A suppressed finding stays in the log
with an ``inSource`` suppression and its justification, so an audit can see it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from seawall.kube._rules import Finding, Rule, Severity

__all__ = ["SARIF_SCHEMA", "sarif_log"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
_INFO_URI = "https://github.com/seawall/seawall/blob/main/docs/kube.md"


def _uri(source: str) -> str:
    if source.startswith("<"):
        return quote(source.strip("<>"))  # "<stdin>" -> "stdin": a relative reference
    path = Path(source)
    return path.as_uri() if path.is_absolute() else quote(path.as_posix())


def sarif_log(
    tool: str, rules: Sequence[Rule], findings: Iterable[Finding], version: str = "0.1.0"
) -> dict[str, Any]:
    """A SARIF log for ``findings`` reported by ``tool`` (whose checks are ``rules``)."""
    index = {r.id: i for i, r in enumerate(rules)}
    results: list[dict[str, Any]] = []
    for finding in findings:
        result: dict[str, Any] = {
            "ruleId": finding.rule_id,
            "ruleIndex": index[finding.rule_id],
            "level": _LEVEL[finding.severity],
            "message": {"text": finding.message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": _uri(finding.source)},
                        "region": {"startLine": max(finding.line, 1)},
                    },
                    "logicalLocations": [
                        {"fullyQualifiedName": finding.resource, "kind": "resource"}
                    ]
                    if finding.resource
                    else [],
                }
            ],
        }
        if finding.field:
            result["properties"] = {"field": finding.field}
        if finding.suppressed is not None:
            result["suppressions"] = [{"kind": "inSource", "justification": finding.suppressed}]
        results.append(result)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": tool,
                        "version": version,
                        "informationUri": _INFO_URI,
                        "rules": [
                            {
                                "id": r.id,
                                "name": r.name,
                                "shortDescription": {"text": r.summary},
                                "defaultConfiguration": {"level": _LEVEL[r.severity]},
                                "helpUri": f"{_INFO_URI}#{r.id.lower()}",
                            }
                            for r in rules
                        ],
                    }
                },
                "results": results,
            }
        ],
    }
