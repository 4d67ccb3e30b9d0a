"""The guard's settings, allowances and dry run, on an in-memory SQLite connection."""

from __future__ import annotations

import logging
import sqlite3
import subprocess
import sys
from collections.abc import Iterator

import pytest

import seawall
from seawall import sqlguard


@pytest.fixture
def db() -> Iterator[sqlguard.GuardedConnection]:
    raw = sqlite3.connect(":memory:")
    raw.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    yield sqlguard.guard(raw)
    raw.close()


def test_sql_refused_is_operator_error_not_overload() -> None:
    assert issubclass(sqlguard.SqlRefused, seawall.SeawallError)
    assert not issubclass(sqlguard.SqlRefused, seawall.Rejected)
    assert issubclass(sqlguard.RowLimitExceeded, sqlguard.SqlRefused)


def test_retry_does_not_retry_a_refused_statement(db: sqlguard.GuardedConnection) -> None:
    from seawall.testing import FakeClock

    calls = 0

    def wipe() -> None:
        nonlocal calls
        calls += 1
        db.execute("DELETE FROM t")

    retry = seawall.Retry(attempts=3, clock=FakeClock())
    with pytest.raises(sqlguard.SqlRefused):
        retry.call(wipe)
    assert calls == 1


def test_the_error_names_the_statement_the_rule_and_the_way_to_allow_it(
    db: sqlguard.GuardedConnection,
) -> None:
    with pytest.raises(sqlguard.SqlRefused) as refused:
        db.execute("DELETE   FROM t")
    error = refused.value
    assert error.rule == "missing_where"
    assert error.statement == "DELETE FROM t"
    assert 'sqlguard.allow("missing_where")' in error.hint


def test_connection_level_allow_and_block_level_allow(db: sqlguard.GuardedConnection) -> None:
    loose = sqlguard.guard(db.unguarded, allow=["drop"])
    loose.execute("CREATE TABLE u (id int)")
    loose.execute("DROP TABLE u")
    with pytest.raises(sqlguard.SqlRefused):
        db.execute("DROP TABLE t")
    with sqlguard.allow("drop"):
        db.execute("DROP TABLE t")


def test_allowances_nest_and_end_with_their_block(db: sqlguard.GuardedConnection) -> None:
    with sqlguard.allow("missing_where"):
        with sqlguard.allow("tautological_where"):
            db.execute("DELETE FROM t")
            db.execute("DELETE FROM t WHERE 1=1")
        db.execute("DELETE FROM t")
        with pytest.raises(sqlguard.SqlRefused):
            db.execute("DELETE FROM t WHERE 1=1")
    with pytest.raises(sqlguard.SqlRefused):
        db.execute("DELETE FROM t")


def test_refused_statements_never_reach_the_driver(db: sqlguard.GuardedConnection) -> None:
    db.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(sqlguard.SqlRefused):
        db.execute("INSERT INTO t VALUES (2); DELETE FROM t")
    assert db.execute("SELECT count(*) FROM t").fetchone() == (1,)


def test_dry_run_logs_and_records_but_runs(caplog: pytest.LogCaptureFixture) -> None:
    raw = sqlite3.connect(":memory:")
    raw.execute("CREATE TABLE t (id int)")
    db = sqlguard.guard(raw, dry_run=True)
    with caplog.at_level(logging.WARNING, logger="seawall.sqlguard"):
        db.execute("DROP TABLE t")
    assert [f.rule for f in db.findings] == ["drop"]
    assert "would refuse (drop)" in caplog.text
    with pytest.raises(sqlite3.OperationalError):
        raw.execute("SELECT * FROM t")


def test_unparseable_sql_passes_and_is_logged_once_by_default(
    caplog: pytest.LogCaptureFixture,
) -> None:
    db = sqlguard.guard(sqlite3.connect(":memory:"))
    with caplog.at_level(logging.WARNING, logger="seawall.sqlguard"):
        for _ in range(3):
            with pytest.raises(sqlite3.OperationalError):
                db.execute("DELETE FROM FROM (((")
    assert caplog.text.count("cannot parse") == 1


def test_unparseable_sql_can_be_refused() -> None:
    db = sqlguard.guard(sqlite3.connect(":memory:"), on_unparseable="refuse")
    with pytest.raises(sqlguard.SqlRefused, match="unparseable"):
        db.execute("DELETE FROM FROM (((")
    with sqlguard.allow("unparseable"), pytest.raises(sqlite3.OperationalError):
        db.execute("DELETE FROM FROM (((")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_rows": -1}, "max_rows"),
        ({"max_rows": 1.5}, "max_rows"),
        ({"max_rows": True}, "max_rows"),
        ({"allow": ["dorp"]}, "unknown sqlguard rule"),
        ({"allow": "missing-where"}, "unknown sqlguard rule"),
        ({"dry_run": "yes"}, "dry_run"),
        ({"on_unparseable": "ignore"}, "on_unparseable"),
        ({"cache_size": 0}, "cache_size"),
        ({"dialect": "nosuchsql"}, "unknown SQL dialect"),
    ],
)
def test_bad_settings_are_config_errors_at_construction(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(seawall.ConfigError, match=message):
        sqlguard.guard(sqlite3.connect(":memory:"), **kwargs)  # type: ignore[arg-type]


def test_guard_needs_a_connection() -> None:
    with pytest.raises(seawall.ConfigError, match="DB-API connection"):
        sqlguard.guard("sqlite:///x.db")
    with pytest.raises(seawall.ConfigError, match="unknown sqlguard rule"):
        with sqlguard.allow("everything"):
            pass
    with pytest.raises(seawall.ConfigError, match="max_rows"):
        with sqlguard.allow(max_rows=-5):
            pass


def test_the_dialect_comes_from_the_driver() -> None:
    assert sqlguard.guard(sqlite3.connect(":memory:")).guard.dialect == "sqlite"
    assert sqlguard.guard(sqlite3.connect(":memory:"), dialect="mysql").guard.dialect == "mysql"


def test_the_guarded_connection_is_still_the_driver_connection(
    db: sqlguard.GuardedConnection,
) -> None:
    with db:
        db.execute("INSERT INTO t VALUES (1)")
    assert db.total_changes == 1
    cur = db.cursor()
    assert cur.connection is db
    assert cur.execute("SELECT id FROM t") is cur
    assert list(cur) == [(1,)]
    with pytest.raises(sqlguard.SqlRefused):
        db.executescript("CREATE TABLE u (id int); DROP TABLE t;")


def test_missing_sqlglot_names_the_extra() -> None:
    code = (
        "import sys, sqlite3; sys.modules['sqlglot'] = None\n"
        "from seawall import sqlguard\n"
        "try:\n"
        "    sqlguard.guard(sqlite3.connect(':memory:'))\n"
        "except ImportError as e:\n"
        "    assert 'seawall[sql]' in str(e), e\n"
        "else:\n"
        "    raise SystemExit('no ImportError')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
