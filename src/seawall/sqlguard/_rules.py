"""The rules: which statements can destroy data wholesale, decided on the parse tree.

A statement is judged once per SQL text (see :class:`Judge`); the verdict lists every
rule it breaks and whether it writes rows (an UPDATE or DELETE anywhere in it, including
a data-modifying CTE), which is what decides if a row limit needs a savepoint around it.

The rules, by the name :func:`seawall.sqlguard.allow` takes:

``missing_where``       UPDATE or DELETE with no WHERE: every row of the table.
``tautological_where``  a WHERE that is always true (``1=1``, ``true``, ``1``, ``'a'='a'``,
                        ``x = x``, ``... OR 1=1``, ``LIKE '%'``): every row, written to
                        look deliberate.
``drop``                DROP of a table, schema, database, view, index, ...
``truncate``            TRUNCATE: every row, with no WHERE possible.
``alter_drop``          ALTER TABLE ... DROP COLUMN / CONSTRAINT / PARTITION.
``unparseable``         text the parser could not read in the dialect, refused only when
                        the guard is told to (``on_unparseable="refuse"``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import _lru_cache_wrapper, lru_cache
from typing import Any, Literal

from seawall._errors import ConfigError

__all__ = ["RULES", "Finding", "Judge", "Verdict"]

Rule = Literal[
    "missing_where", "tautological_where", "drop", "truncate", "alter_drop", "unparseable"
]
RULES: frozenset[str] = frozenset(
    ("missing_where", "tautological_where", "drop", "truncate", "alter_drop", "unparseable")
)


@dataclass(frozen=True, slots=True)
class Finding:
    """One broken rule: which ``rule``, in which ``statement``, and why in plain words."""

    rule: str
    statement: str
    reason: str


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the guard concluded about one SQL text.

    ``writes`` is true when the text updates or deletes rows (the case a row limit
    watches); ``parsed`` is false when the parser could not read it; ``plain`` is true
    when none of that applies, so the statement can go straight to the driver.
    """

    findings: tuple[Finding, ...]
    writes: bool
    parsed: bool = True
    #: Nothing to check at run time: parsed, no finding, no write a row limit could watch.
    plain: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "plain", self.parsed and not self.findings and not self.writes)


class Judge:
    """Parses SQL in one dialect and caches the verdict per text (parsing is ~100 µs).

    Applications issue the same few statement texts with different parameters, so a
    bounded LRU cache turns the parse into a dictionary lookup on the hot path.
    """

    def __init__(self, dialect: str | None, cache_size: int) -> None:
        try:
            import sqlglot
        except ImportError as exc:
            raise ImportError(
                "seawall.sqlguard parses SQL with sqlglot: pip install 'seawall[sql]'"
            ) from exc

        if dialect is not None:
            from sqlglot.dialects.dialect import Dialect

            try:
                Dialect.get_or_raise(dialect)
            except ValueError as exc:
                raise ConfigError(f"unknown SQL dialect {dialect!r}: {exc}") from None
        self._sqlglot = sqlglot
        self.dialect = dialect
        self.verdict: _lru_cache_wrapper[Verdict] = lru_cache(maxsize=cache_size)(self._judge)

    def _judge(self, sql: str) -> Verdict:
        from sqlglot.errors import SqlglotError

        try:
            trees = self._sqlglot.parse(sql, read=self.dialect)
        except (SqlglotError, ValueError, RecursionError, KeyError, TypeError):
            return Verdict((), writes=_may_write(sql), parsed=False)
        try:
            return self._judge_trees(sql, trees)
        except Exception:  # a tree shape the rules do not expect: judged as unread text
            return Verdict((), writes=_may_write(sql), parsed=False)

    def _judge_trees(self, sql: str, trees: list[Any]) -> Verdict:
        from sqlglot import expressions as exp

        findings: list[Finding] = []
        writes = False
        parsed = True
        for tree in trees:
            if tree is None:
                continue
            if isinstance(tree, exp.Command):
                # The parser kept this statement as text: judge it by its verb alone.
                verb = str(tree.this).upper()
                if verb == "DROP":
                    findings.append(Finding("drop", sql, "DROP destroys the object"))
                elif verb == "TRUNCATE":
                    findings.append(Finding("truncate", sql, "TRUNCATE deletes every row"))
                elif verb in {"UPDATE", "DELETE", "ALTER", "WITH", "MERGE"}:
                    writes = True
                    parsed = False
                continue
            text = _text(tree, self.dialect)
            for node in tree.walk():
                if isinstance(node, exp.Update | exp.Delete):
                    writes = True
                    findings.extend(_where_findings(node, text))
                elif isinstance(node, exp.Drop):
                    kind = str(node.args.get("kind") or "object").upper()
                    findings.append(
                        Finding("drop", text, f"DROP {kind} destroys the {kind.lower()}")
                    )
                elif isinstance(node, exp.TruncateTable):
                    findings.append(Finding("truncate", text, "TRUNCATE deletes every row"))
                elif isinstance(node, exp.Alter) and any(
                    isinstance(a, exp.Drop) for a in node.args.get("actions") or ()
                ):
                    findings.append(
                        Finding("alter_drop", text, "ALTER ... DROP destroys a column's data")
                    )
        # ALTER's DROP action is reported as alter_drop, not also as a plain drop.
        alters = {f.statement for f in findings if f.rule == "alter_drop"}
        findings = [f for f in findings if not (f.rule == "drop" and f.statement in alters)]
        return Verdict(tuple(findings), writes=writes, parsed=parsed)


def _may_write(sql: str) -> bool:
    # Unparsed text gets a savepoint under a row limit if any word could be a write;
    # a needless savepoint costs a round trip, a missing one costs the rows.
    upper = sql.upper()
    return "UPDATE" in upper or "DELETE" in upper


def _text(tree: Any, dialect: str | None) -> str:
    try:
        return str(tree.sql(dialect=dialect))
    except Exception:  # an odd tree must not hide the finding behind a printing error
        return str(tree)


def _where_findings(node: Any, text: str) -> list[Finding]:
    from sqlglot import expressions as exp

    verb = "UPDATE" if isinstance(node, exp.Update) else "DELETE"
    where = node.args.get("where")
    table = node.this.sql() if isinstance(node.this, exp.Expression) else "the table"
    if where is None:
        return [
            Finding("missing_where", text, f"{verb} without WHERE touches every row of {table}")
        ]
    if truth(where.this) is True:
        return [
            Finding(
                "tautological_where",
                text,
                f"{verb} with an always-true WHERE touches every row of {table}",
            )
        ]
    return []


def truth(node: Any) -> bool | None:
    """Fold a condition to True or False when rows cannot change it, else None.

    Three-valued logic is simplified to what matters for the guard: a NULL condition
    selects no row (False), and ``x = x`` counts as true (it selects every non-NULL row).
    """
    from sqlglot import expressions as exp

    if isinstance(node, exp.Paren):
        return truth(node.this)
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    if isinstance(node, exp.Null):
        return False
    if isinstance(node, exp.Literal):
        if node.is_string:
            return None
        number = _number(node)
        return None if number is None else number != 0
    if isinstance(node, exp.Not):
        inner = truth(node.this)
        return None if inner is None else not inner
    if isinstance(node, exp.And):
        left, right = truth(node.left), truth(node.right)
        if left is False or right is False:
            return False
        return True if left is True and right is True else None
    if isinstance(node, exp.Or):
        left, right = truth(node.left), truth(node.right)
        if left is True or right is True:
            return True
        return False if left is False and right is False else None
    if isinstance(node, exp.EQ | exp.NEQ | exp.GT | exp.GTE | exp.LT | exp.LTE | exp.NullSafeEQ):
        return _compare(node)
    if isinstance(node, exp.Is) and isinstance(node.expression, exp.Null):
        return isinstance(node.this, exp.Null) or None
    if isinstance(node, exp.Like) and isinstance(node.expression, exp.Literal):
        pattern = node.expression.this
        return True if isinstance(pattern, str) and pattern and set(pattern) == {"%"} else None
    if isinstance(node, exp.In) and not node.args.get("query"):
        needle = _constant(node.this)
        if needle is None:
            return None
        values = [_constant(e) for e in node.expressions]
        if needle in values:
            return True
        return False if values and all(v is not None for v in values) else None
    return None


def _compare(node: Any) -> bool | None:
    from sqlglot import expressions as exp

    left, right = node.this, node.expression
    if isinstance(left, exp.Column) and left == right:
        # The same column on both sides: equal on every row (NULLs aside).
        return isinstance(node, exp.EQ | exp.GTE | exp.LTE | exp.NullSafeEQ)
    a, b = _constant(left), _constant(right)
    if a is None or b is None or type(a) is not type(b):
        return None
    if isinstance(node, exp.EQ | exp.NullSafeEQ):
        return a == b
    if isinstance(node, exp.NEQ):
        return a != b
    if isinstance(node, exp.GT):
        return a > b  # type: ignore[operator]
    if isinstance(node, exp.GTE):
        return a >= b  # type: ignore[operator]
    if isinstance(node, exp.LT):
        return a < b  # type: ignore[operator]
    return a <= b  # type: ignore[operator]


def _constant(node: Any) -> float | str | None:
    from sqlglot import expressions as exp

    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal):
        number = _number(node.this)
        return None if number is None else -number
    if isinstance(node, exp.Boolean):
        return 1.0 if node.this else 0.0
    if isinstance(node, exp.Literal):
        return str(node.this) if node.is_string else _number(node)
    return None


def _number(node: Any) -> float | None:
    try:
        return float(node.this)
    except (TypeError, ValueError):
        return None
