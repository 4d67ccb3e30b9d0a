"""sqlguard on real databases: SQLite (in-process) and PostgreSQL (a server on 127.0.0.1).

The same checks run on both: destructive statements are refused before they reach the
database, and a DELETE over the row limit is undone alone, its rows still there.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest

from seawall import sqlguard

pytestmark = pytest.mark.integration

ROWS = 10_000


def _sqlite() -> Any:
    conn = sqlite3.connect(":memory:")
    return conn


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest) -> Iterator[tuple[Any, str]]:
    """A raw connection with ``orders`` holding 10,000 committed rows, and its placeholder."""
    if request.param == "sqlite":
        conn = _sqlite()
        mark = "?"
    else:
        conn = request.getfixturevalue("pg")
        mark = "%s"
        conn.execute("DROP TABLE IF EXISTS orders")
    conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, status TEXT NOT NULL)")
    cur = conn.cursor()
    cur.executemany(
        f"INSERT INTO orders (id, status) VALUES ({mark}, {mark})",
        [(i, "open" if i % 2 else "shipped") for i in range(ROWS)],
    )
    conn.commit()
    yield conn, mark
    conn.rollback()
    if request.param == "sqlite":
        conn.close()


def _count(conn: Any) -> int:
    cur = conn.cursor()
    cur.execute("SELECT count(*) FROM orders")
    return int(cur.fetchone()[0])


@pytest.mark.parametrize(
    ("statement", "rule"),
    [
        ("DELETE FROM orders", "missing_where"),
        ("UPDATE orders SET status = 'lost' WHERE 1=1", "tautological_where"),
        ("DROP TABLE orders", "drop"),
        ("DELETE FROM orders WHERE id = 3 OR 1=1", "tautological_where"),
        ("SELECT 1; DELETE FROM orders", "missing_where"),
    ],
)
def test_destructive_statements_are_refused_before_they_run(
    db: tuple[Any, str], statement: str, rule: str
) -> None:
    raw, _ = db
    conn = sqlguard.guard(raw)
    with pytest.raises(sqlguard.SqlRefused) as refused:
        conn.cursor().execute(statement)
    assert refused.value.rule == rule
    assert f'allow("{rule}")' in str(refused.value)
    raw.rollback()
    assert _count(raw) == ROWS


def test_a_delete_over_the_row_limit_is_rolled_back_and_the_rows_stay(
    db: tuple[Any, str],
) -> None:
    raw, mark = db
    conn = sqlguard.guard(raw, max_rows=100)
    cur = conn.cursor()
    # Earlier work in the same transaction survives the refused statement.
    cur.execute(f"UPDATE orders SET status = {mark} WHERE id = {mark}", ("kept", 1))
    with pytest.raises(sqlguard.RowLimitExceeded) as exceeded:
        cur.execute(f"DELETE FROM orders WHERE id >= {mark}", (0,))
    assert (exceeded.value.rows, exceeded.value.limit) == (ROWS, 100)
    conn.commit()
    assert _count(raw) == ROWS
    cur.execute(f"SELECT status FROM orders WHERE id = {mark}", (1,))
    assert cur.fetchone()[0] == "kept"


def test_a_write_within_the_limit_runs_and_reports_its_rowcount(db: tuple[Any, str]) -> None:
    raw, mark = db
    conn = sqlguard.guard(raw, max_rows=100)
    cur = conn.cursor()
    cur.execute(f"DELETE FROM orders WHERE id < {mark}", (100,))
    assert cur.rowcount == 100
    conn.commit()
    assert _count(raw) == ROWS - 100


def test_allow_lifts_a_rule_and_the_limit_for_its_block_only(db: tuple[Any, str]) -> None:
    raw, mark = db
    conn = sqlguard.guard(raw, max_rows=100)
    cur = conn.cursor()
    with sqlguard.allow(max_rows=ROWS):
        cur.execute(f"UPDATE orders SET status = {mark} WHERE id >= 0", ("archived",))
    assert cur.rowcount == ROWS
    with pytest.raises(sqlguard.RowLimitExceeded):
        cur.execute(f"UPDATE orders SET status = {mark} WHERE id >= 0", ("again",))
    with sqlguard.allow("missing_where", max_rows=None):
        cur.execute("DELETE FROM orders")
    conn.commit()
    assert _count(raw) == 0


def test_dry_run_records_what_it_would_refuse_and_runs_it(db: tuple[Any, str]) -> None:
    raw, _ = db
    conn = sqlguard.guard(raw, max_rows=100, dry_run=True)
    conn.cursor().execute("UPDATE orders SET status = 'x' WHERE true")
    assert [f.rule for f in conn.findings] == ["tautological_where", "row_limit"]
    conn.rollback()
    assert _count(raw) == ROWS


def test_executemany_counts_the_rows_of_every_parameter_set(db: tuple[Any, str]) -> None:
    raw, mark = db
    conn = sqlguard.guard(raw, max_rows=100)
    with pytest.raises(sqlguard.RowLimitExceeded) as exceeded:
        conn.cursor().executemany(
            f"DELETE FROM orders WHERE id >= {mark} AND id < {mark}",
            [(i, i + 60) for i in (0, 1000)],
        )
    assert exceeded.value.rows == 120
    conn.commit()
    assert _count(raw) == ROWS


def test_sqlite_autocommit_connection_is_limited_statement_by_statement() -> None:
    raw = sqlite3.connect(":memory:", isolation_level=None)
    raw.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY)")
    raw.executemany("INSERT INTO orders VALUES (?)", [(i,) for i in range(500)])
    conn = sqlguard.guard(raw, max_rows=100)
    with pytest.raises(sqlguard.RowLimitExceeded):
        conn.execute("DELETE FROM orders WHERE id >= 0")
    assert conn.execute("DELETE FROM orders WHERE id < 10").rowcount == 10
    assert not raw.in_transaction
    assert _count(raw) == 490
    raw.close()


def test_postgres_autocommit_connection_runs_a_limited_write_as_its_own_transaction(
    postgres_dsn: str,
) -> None:
    import psycopg

    with psycopg.connect(postgres_dsn, autocommit=True) as raw:
        raw.execute("DROP TABLE IF EXISTS small")
        raw.execute("CREATE TABLE small (id INTEGER PRIMARY KEY)")
        raw.execute("INSERT INTO small SELECT generate_series(0, 499)")
        conn = sqlguard.guard(raw, max_rows=100)
        with pytest.raises(sqlguard.RowLimitExceeded):
            conn.execute("DELETE FROM small WHERE id >= 0")
        assert conn.execute("DELETE FROM small WHERE id < 10").rowcount == 10
        assert raw.execute("SELECT count(*) FROM small").fetchone() == (490,)


def test_psycopg_composed_sql_is_checked(pg: Any) -> None:
    from psycopg import sql

    conn = sqlguard.guard(pg)
    statement = sql.SQL("DELETE FROM {}").format(sql.Identifier("orders"))
    with pytest.raises(sqlguard.SqlRefused, match="missing_where"):
        conn.cursor().execute(statement)


def test_a_failing_statement_reaches_the_application_unchanged(pg: Any) -> None:
    import psycopg

    conn = sqlguard.guard(pg, max_rows=10)
    with pytest.raises(psycopg.errors.UndefinedTable):
        conn.cursor().execute("DELETE FROM no_such_table WHERE id = 1")


def test_a_limited_write_stays_in_the_applications_transaction(db: tuple[Any, str]) -> None:
    raw, mark = db
    conn = sqlguard.guard(raw, max_rows=100)
    conn.cursor().execute(f"DELETE FROM orders WHERE id < {mark}", (50,))
    conn.rollback()  # the savepoint must not have committed the DELETE on its own
    assert _count(raw) == ROWS


def test_a_failing_limited_write_leaves_no_transaction_open_on_autocommit_sqlite() -> None:
    raw = sqlite3.connect(":memory:", isolation_level=None)
    raw.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, v INT NOT NULL)")
    raw.execute("INSERT INTO orders VALUES (1, 1), (2, 2)")
    conn = sqlguard.guard(raw, max_rows=100)
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("UPDATE orders SET v = NULL WHERE id < 3")
    assert not raw.in_transaction
    raw.close()


def test_sqlite_isolation_level_is_kept_when_the_guard_opens_the_transaction() -> None:
    raw = sqlite3.connect(":memory:", isolation_level="IMMEDIATE")
    raw.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY)")
    raw.commit()
    statements: list[str] = []
    raw.set_trace_callback(statements.append)
    sqlguard.guard(raw, max_rows=10).execute("DELETE FROM orders WHERE id = 1")
    assert statements[0] == "BEGIN IMMEDIATE"
    raw.close()
