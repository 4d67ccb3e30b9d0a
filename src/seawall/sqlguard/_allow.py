"""Explicit allowances: which rules a block of code may break, and its row limit.

An allowance is scoped like a deadline: it holds for the statements run inside the
``with`` block, in that thread or task only (a context variable), so a migration can drop
a table while the request handlers running beside it still cannot.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Final

from seawall._errors import ConfigError
from seawall.sqlguard._rules import RULES

__all__ = ["UNSET", "allow", "current", "row_limit", "rule_set"]


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = _Unset()

# (rules allowed, row limit override or UNSET)
_CURRENT: ContextVar[tuple[frozenset[str], int | _Unset | None]] = ContextVar(
    "seawall_sqlguard_allow", default=(frozenset(), UNSET)
)


def current() -> tuple[frozenset[str], int | _Unset | None]:
    """The rules allowed and the row limit override in force here."""
    return _CURRENT.get()


@contextmanager
def allow(*rules: str, max_rows: int | _Unset | None = UNSET) -> Iterator[None]:
    """Allow ``rules`` (and set the row limit to ``max_rows``) for the block's statements.

    ::

        with sqlguard.allow("drop"):
            cur.execute("DROP TABLE orders_old")
        with sqlguard.allow(max_rows=50_000):
            cur.execute("DELETE FROM events WHERE created < %s", (cutoff,))

    ``max_rows=None`` lifts the row limit inside the block. Nested blocks add rules and
    the innermost row limit wins.
    """
    allowed = rule_set(rules)
    if not isinstance(max_rows, _Unset):
        row_limit(max_rows)
    outer_rules, outer_limit = _CURRENT.get()
    limit = outer_limit if isinstance(max_rows, _Unset) else max_rows
    token = _CURRENT.set((outer_rules | allowed, limit))
    try:
        yield
    finally:
        _CURRENT.reset(token)


def rule_set(rules: Iterable[str] | str) -> frozenset[str]:
    """Validate rule names; a misspelt rule would silently allow nothing."""
    if isinstance(rules, str):
        rules = (rules,)
    names = frozenset(rules)
    unknown = sorted(n for n in names if n not in RULES)
    if unknown:
        raise ConfigError(
            f"unknown sqlguard rule(s) {', '.join(map(repr, unknown))}; "
            f"the rules are: {', '.join(sorted(RULES))}"
        )
    return names


def row_limit(value: object) -> int | None:
    """Validate a row limit: a non-negative int, or None for no limit."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"max_rows must be a non-negative int or None, got {value!r}")
    return value
