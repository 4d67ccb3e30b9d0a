"""The lint configuration file: which checks run and how severe each one is.

::

    # seawall-lint.yaml
    disable: [SW114, image-tag-mutable]      # IDs or names
    severity:
      SW107: error                           # error | warning | info
      pdb-blocks-eviction: warning

Unknown keys, IDs and severities are errors naming the file and line: a typo in a
config file must not silently switch a check off, or on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seawall._errors import ConfigError
from seawall._formats._yaml import load_text
from seawall.kube._rules import Rule, Severity, rule

__all__ = ["LintConfig", "load_config"]


@dataclass(frozen=True)
class LintConfig:
    """Disabled check IDs and severity overrides, by ID."""

    disabled: frozenset[str] = frozenset()
    severities: Mapping[str, Severity] = field(default_factory=dict)

    def severity(self, rule_id: str, default: Severity) -> Severity:
        return self.severities.get(rule_id, default)


def _rule(value: Any, where: str) -> Rule:
    found = rule(value) if isinstance(value, str) else None
    if found is None:
        raise ConfigError(f"{where}: unknown check {value!r}")
    return found


def load_config(path: str) -> LintConfig:
    """Read a config file; every problem is a ConfigError with file and line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}") from exc
    documents = load_text(text, path)
    if not documents:
        return LintConfig()
    doc = documents[0]
    data = doc.data
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:{doc.start_line}: config must be a mapping")
    for key in data:
        if key not in ("disable", "severity"):
            raise ConfigError(
                f"{path}:{doc.line_of((key,))}: unknown config key {key!r} "
                "(expected 'disable' or 'severity')"
            )
    disable = data.get("disable", [])
    if not isinstance(disable, list):
        raise ConfigError(f"{path}:{doc.line_of(('disable',))}: 'disable' must be a list")
    disabled = frozenset(
        _rule(v, f"{path}:{doc.line_of(('disable', i))}: disable[{i}]").id
        for i, v in enumerate(disable)
    )
    severity = data.get("severity", {})
    if not isinstance(severity, dict):
        raise ConfigError(f"{path}:{doc.line_of(('severity',))}: 'severity' must be a mapping")
    severities: dict[str, Severity] = {}
    for key, value in severity.items():
        where = f"{path}:{doc.line_of(('severity', key))}: severity.{key}"
        found = _rule(key, where)
        try:
            severities[found.id] = Severity(str(value).lower())
        except ValueError:
            raise ConfigError(f"{where}: {value!r} is not one of error, warning, info") from None
    return LintConfig(disabled, severities)
