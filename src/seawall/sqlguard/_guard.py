"""The guard's decision: refuse, pass, or pass under a row limit; and what dry run saw.

One :class:`SqlGuard` holds a connection's (or engine's) settings, its verdict cache and
its dry-run findings. The driver shells (:mod:`._dbapi`, :mod:`._engine`) ask it
:meth:`SqlGuard.admit` before a statement and :meth:`SqlGuard.rows_touched` after.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Literal

from seawall._errors import ConfigError
from seawall.sqlguard._allow import UNSET, current, row_limit, rule_set
from seawall.sqlguard._errors import RowLimitExceeded, SqlRefused
from seawall.sqlguard._rules import Finding, Judge, Verdict

__all__ = ["AllowArg", "SqlGuard", "Unparseable"]

logger = logging.getLogger("seawall.sqlguard")

Unparseable = Literal["pass", "refuse"]
AllowArg = str | tuple[str, ...] | list[str] | frozenset[str] | set[str]
_UNPARSED = Verdict((), writes=True, parsed=False)


class SqlGuard:
    """Settings, verdict cache and dry-run findings of one guarded connection or engine.

    ``max_rows`` limits how many rows one UPDATE or DELETE may touch (None: no limit);
    ``allow`` names rules this connection may always break; ``dry_run`` records and logs
    what would have been refused but runs everything; ``on_unparseable`` decides text
    the parser cannot read: ``"pass"`` (the default: a guard must not break an
    application on SQL its parser does not know; logged once per text) or ``"refuse"``.
    """

    def __init__(
        self,
        *,
        dialect: str | None,
        max_rows: int | None = None,
        allow: AllowArg = (),
        dry_run: bool = False,
        on_unparseable: Unparseable = "pass",
        cache_size: int = 1024,
        max_findings: int = 1000,
    ) -> None:
        self.max_rows = row_limit(max_rows)
        self.allowed = rule_set(allow)
        if not isinstance(dry_run, bool):
            raise ConfigError(f"dry_run must be True or False, got {dry_run!r}")
        if on_unparseable not in ("pass", "refuse"):
            raise ConfigError(f"on_unparseable must be 'pass' or 'refuse', got {on_unparseable!r}")
        for name, value in (("cache_size", cache_size), ("max_findings", max_findings)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive int, got {value!r}")
        if dialect is not None and not isinstance(dialect, str):
            raise ConfigError(f"dialect must be a sqlglot dialect name, got {dialect!r}")
        self.dry_run = dry_run
        self.on_unparseable: Unparseable = on_unparseable
        self.judge = Judge(dialect, cache_size)
        self.findings: deque[Finding] = deque(maxlen=max_findings)
        self._logged_unparsed: set[str] = set()
        self._cache_size = cache_size

    @property
    def dialect(self) -> str | None:
        return self.judge.dialect

    def verdict(self, sql: object) -> Verdict:
        """The (cached) verdict on ``sql``; text that is not a string is unparseable."""
        if isinstance(sql, str):
            return self.judge.verdict(sql)
        return _UNPARSED

    def admit(self, sql: object, text: str | None) -> int | None:
        """Refuse ``sql`` or let it run; return the row limit to enforce, if any.

        ``text`` is ``sql`` as a string when the shell could render it, for messages.
        """
        verdict = self.verdict(text if text is not None else sql)
        rules, override = current()
        if not verdict.parsed:
            self._unparsed(text if text is not None else repr(sql), rules)
        for finding in verdict.findings:
            if finding.rule not in self.allowed and finding.rule not in rules:
                self._refuse(finding)
        limit = self.max_rows if override is UNSET else override
        if limit is None or not verdict.writes:
            return None
        return limit  # type: ignore[return-value]

    def rows_touched(self, statement: str, rows: int, limit: int) -> None:
        """Raise (or, in dry run, record) when a write touched more than ``limit`` rows."""
        if rows <= limit:
            return
        error = RowLimitExceeded(statement, rows, limit)
        if self.dry_run:
            self._record(Finding("row_limit", statement, error.reason))
            return
        raise error

    def _unparsed(self, text: str, rules: frozenset[str]) -> None:
        finding = Finding(
            "unparseable", text, f"the {self.dialect or 'generic'} SQL parser cannot read it"
        )
        if self.on_unparseable == "refuse" and "unparseable" not in (self.allowed | rules):
            self._refuse(finding)
            return
        if text not in self._logged_unparsed and len(self._logged_unparsed) < self._cache_size:
            self._logged_unparsed.add(text)
            logger.warning("sqlguard passed SQL it cannot parse (not checked): %.200r", text)

    def _refuse(self, finding: Finding) -> None:
        if self.dry_run:
            self._record(finding)
            return
        raise SqlRefused(
            finding.statement,
            finding.rule,
            finding.reason,
            "if this is intended, allow it for this statement: "
            f'with seawall.sqlguard.allow("{finding.rule}"): ...',
        )

    def _record(self, finding: Finding) -> None:
        self.findings.append(finding)
        logger.warning(
            "sqlguard dry run: would refuse (%s): %s: %.200r",
            finding.rule,
            finding.reason,
            finding.statement,
        )
