"""Arbitrary SQL-ish text never crashes the guard: it is refused, passed, or a clear error."""

from __future__ import annotations

import sqlite3

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seawall import sqlguard

_WORDS = st.sampled_from(
    [
        "DELETE", "UPDATE", "DROP", "TRUNCATE", "ALTER", "TABLE", "FROM", "WHERE", "SET",
        "SELECT", "WITH", "AS", "OR", "AND", "NOT", "LIKE", "IN", "1", "0", "1=1", "'a'",
        "t", "x", "=", "(", ")", ";", ",", "*", "%s", "?", ":p", "--", "/*", "*/", "TRUE",
        "NULL", "IS", "RETURNING", "USING", "COLUMN", "'%'", "-", "\"q\"", "`b`", "$1",
    ]
)  # fmt: skip
_SQLISH = st.one_of(st.lists(_WORDS, max_size=14).map(" ".join), st.text(max_size=60))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sql=_SQLISH, dialect=st.sampled_from([None, "sqlite", "postgres", "mysql"]))
def test_the_guard_never_crashes(sql: str, dialect: str | None) -> None:
    guard = sqlguard.SqlGuard(dialect=dialect, on_unparseable="refuse")
    try:
        guard.admit(sql, sql)
    except sqlguard.SqlRefused as refused:
        assert refused.rule in sqlguard.RULES
        assert str(refused)


@settings(max_examples=150, deadline=None)
@given(sql=_SQLISH)
def test_a_guarded_sqlite_connection_refuses_or_passes_to_the_driver(sql: str) -> None:
    raw = sqlite3.connect(":memory:")
    raw.execute("CREATE TABLE t (x int)")
    db = sqlguard.guard(raw, max_rows=0)
    try:
        db.execute(sql)
    except (sqlguard.SqlRefused, sqlite3.Error, ValueError):
        pass  # refused, or the driver's own error for bad SQL
    finally:
        raw.close()
