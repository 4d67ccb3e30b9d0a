"""Guards against operator error in SQL: the DELETE with no WHERE, the stray DROP TABLE.

::

    import sqlite3
    from seawall import sqlguard

    db = sqlguard.guard(sqlite3.connect("shop.db"), max_rows=1000)
    db.execute("DELETE FROM orders")            # SqlRefused (missing_where)
    db.execute("DELETE FROM orders WHERE id = ?", (7,))   # runs
    with sqlguard.allow("drop"):
        db.execute("DROP TABLE orders_old")     # allowed for this block only

Statements are parsed (sqlglot, in the driver's dialect), never matched by regexes:
UPDATE/DELETE without a WHERE or with an always-true one, DROP, TRUNCATE and
ALTER ... DROP are refused unless allowed; an UPDATE or DELETE that touches more than
``max_rows`` rows is rolled back alone (a savepoint) with :class:`RowLimitExceeded`.
MySQL's ``sql_safe_updates`` does the first part inside one server; this does it for any
DB-API driver and SQLAlchemy engine, with a row limit. See ``docs/sqlguard.md``.
"""

from seawall.sqlguard._allow import allow
from seawall.sqlguard._dbapi import GuardedConnection, GuardedCursor, guard
from seawall.sqlguard._engine import EngineGuard, guard_engine
from seawall.sqlguard._errors import RowLimitExceeded, SqlRefused
from seawall.sqlguard._guard import SqlGuard, Unparseable
from seawall.sqlguard._rules import RULES, Finding, Verdict

__all__ = [
    "RULES",
    "EngineGuard",
    "Finding",
    "GuardedConnection",
    "GuardedCursor",
    "RowLimitExceeded",
    "SqlGuard",
    "SqlRefused",
    "Unparseable",
    "Verdict",
    "allow",
    "guard",
    "guard_engine",
]
