"""Human and JSON renderings of findings (SARIF lives in :mod:`seawall.kube._sarif`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from seawall.kube._rules import Finding, Rule
from seawall.kube._sarif import sarif_log

__all__ = ["FORMATS", "render", "table"]

FORMATS = ("human", "json", "sarif")


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain left-aligned text table; the last column is never padded."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers) - 1)]
    lines = []
    for row in [headers, *rows]:
        cells = [str(c).ljust(w) for c, w in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, str(row[-1])]).rstrip())
    return "\n".join(lines)


def _human(findings: Sequence[Finding], summary: str) -> str:
    active = [f for f in findings if f.suppressed is None]
    rows = [
        (f"{f.source}:{f.line}", str(f.severity), f.rule_id, f.resource, f.message) for f in active
    ]
    out = table(("LOCATION", "SEVERITY", "ID", "OBJECT", "MESSAGE"), rows) + "\n" if rows else ""
    suppressed = len(findings) - len(active)
    tail = f", {suppressed} suppressed" if suppressed else ""
    return f"{out}{summary}: {len(active)} finding{'s' if len(active) != 1 else ''}{tail}\n"


def render(
    fmt: str,
    findings: Sequence[Finding],
    *,
    tool: str,
    rules: Sequence[Rule],
    summary: str,
    extra: dict[str, Any] | None = None,
) -> str:
    """Findings as ``human`` (a table), ``json`` or ``sarif`` text."""
    if fmt == "human":
        return _human(findings, summary)
    if fmt == "json":
        body: dict[str, Any] = {
            "tool": tool,
            "findings": [f.to_dict() for f in findings],
            "summary": {
                "findings": sum(f.suppressed is None for f in findings),
                "suppressed": sum(f.suppressed is not None for f in findings),
                "errors": sum(f.suppressed is None and f.severity == "error" for f in findings),
            },
            **(extra or {}),
        }
        return json.dumps(body, indent=2) + "\n"
    return json.dumps(sarif_log(tool, rules, findings), indent=2) + "\n"
