"""The errors of the SQL guard.

::

    SeawallError
    └── SqlRefused              a statement broke a rule (operator error, not overload)
        └── RowLimitExceeded    a write touched more rows than allowed; it was rolled back

Neither is a :class:`seawall.Rejected`: nothing is overloaded and waiting does not help.
The statement itself is wrong (or needs an explicit allowance), so Retry's default filter
does not retry it.
"""

from __future__ import annotations

from seawall._errors import SeawallError

__all__ = ["RowLimitExceeded", "SqlRefused"]


class SqlRefused(SeawallError):
    """The guard refused ``statement`` under ``rule``; ``hint`` says how to allow it.

    ``statement`` is the one offending statement (a multi-statement string is checked
    statement by statement), ``rule`` the name to pass to :func:`seawall.sqlguard.allow`.
    """

    def __init__(self, statement: str, rule: str, reason: str, hint: str) -> None:
        super().__init__(f"refused ({rule}): {reason}: {_clip(statement)!r}; {hint}")
        self.statement = statement
        self.rule = rule
        self.reason = reason
        self.hint = hint


class RowLimitExceeded(SqlRefused):
    """A write touched ``rows`` rows, above its ``limit``; only that statement was undone."""

    def __init__(self, statement: str, rows: int, limit: int) -> None:
        super().__init__(
            statement,
            "row_limit",
            f"the statement touched {rows} rows, above the limit of {limit}, "
            "and was rolled back (the rest of the transaction is intact)",
            "if that many rows is intended, raise the limit for this statement: "
            f"with seawall.sqlguard.allow(max_rows={rows}): ...",
        )
        self.rows = rows
        self.limit = limit


def _clip(statement: str, limit: int = 200) -> str:
    text = " ".join(statement.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
