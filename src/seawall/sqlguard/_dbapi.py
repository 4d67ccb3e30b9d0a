"""The guard around any DB-API 2.0 (PEP 249) connection: its cursors check every statement.

A write under a row limit runs inside a SAVEPOINT so that, when ``cursor.rowcount`` comes
back above the limit, exactly that statement is rolled back and the transaction around
it survives. Statements that cannot write rows (or run with no limit) go straight to the
driver: the guard's cost on them is one cached verdict lookup.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, Literal

from seawall._errors import ConfigError
from seawall.sqlguard._guard import AllowArg, SqlGuard, Unparseable
from seawall.sqlguard._rules import Finding

__all__ = [
    "SAVEPOINT",
    "GuardedConnection",
    "GuardedCursor",
    "begin_statement",
    "driver_dialect",
    "guard",
    "settle",
    "transaction_plan",
]

SAVEPOINT = "seawall_sqlguard"

# The DB-API driver's top-level module -> the sqlglot dialect it speaks.
_DIALECTS = {
    "sqlite3": "sqlite",
    "pysqlite2": "sqlite",
    "psycopg": "postgres",
    "psycopg2": "postgres",
    "pg8000": "postgres",
    "pymysql": "mysql",
    "MySQLdb": "mysql",
    "mysql": "mysql",
    "mariadb": "mysql",
    "duckdb": "duckdb",
    "oracledb": "oracle",
    "cx_Oracle": "oracle",
    "snowflake": "snowflake",
    "pymssql": "tsql",
    "clickhouse_driver": "clickhouse",
    "trino": "trino",
}

Plan = Literal["savepoint", "begin_savepoint", "own"]


def driver_dialect(connection: object) -> str | None:
    """The SQL dialect of ``connection``'s driver, or None (generic SQL) when unknown."""
    module = type(connection).__module__.split(".")[0]
    return _DIALECTS.get(module)


def transaction_plan(connection: Any) -> Plan:
    """How to undo one statement on ``connection`` without touching the rest.

    ``savepoint``: a transaction is (or will implicitly be) open, so a savepoint nests in
    it. ``begin_savepoint``: sqlite3's legacy mode opens its implicit transaction only
    before DML, not before SAVEPOINT, so open it as the driver would have. ``own``: an
    autocommit connection outside a transaction, where the statement is its own
    transaction: BEGIN, and COMMIT or ROLLBACK it.
    """
    if _is_sqlite(connection):
        if connection.in_transaction:
            return "savepoint"
        autocommit = getattr(connection, "autocommit", -1)  # Python 3.12+
        if autocommit is True or (
            autocommit not in (True, False) and connection.isolation_level is None
        ):
            return "savepoint"  # outside BEGIN, SQLite's savepoint is its own transaction
        return "begin_savepoint"
    autocommit = getattr(connection, "autocommit", False)
    if callable(autocommit):  # pymysql's autocommit(value) is a setter
        autocommit = bool(getattr(connection, "autocommit_mode", False))
    if not autocommit:
        return "savepoint"
    return "savepoint" if _in_transaction(connection) else "own"


def begin_statement(connection: Any) -> str:
    """The BEGIN the driver itself would send (sqlite3 adds its ``isolation_level``)."""
    if _is_sqlite(connection) and connection.isolation_level:
        return f"BEGIN {connection.isolation_level}"
    return "BEGIN"


def _is_sqlite(connection: object) -> bool:
    return type(connection).__module__.split(".")[0] in {"sqlite3", "pysqlite2"}


def _in_transaction(connection: Any) -> bool:
    info = getattr(connection, "info", None)
    status = getattr(info, "transaction_status", None)  # psycopg 3
    if status is None and hasattr(connection, "get_transaction_status"):
        status = connection.get_transaction_status()  # psycopg2
    return status is not None and int(status) != 0  # 0 is IDLE in both


def render(sql: object, context: object) -> str | None:
    """``sql`` as text for the parser: str, bytes, or a psycopg ``sql.Composable``."""
    if isinstance(sql, str):
        return sql
    if isinstance(sql, bytes | bytearray):
        return bytes(sql).decode("utf-8", "replace")
    as_string = getattr(sql, "as_string", None)
    if callable(as_string):
        try:
            return str(as_string(context))
        except Exception:  # unrenderable: judged as unparseable text
            return None
    return None


_CURSOR_METHODS = ("fetchone", "fetchmany", "fetchall", "close", "nextset", "scroll")
_CONNECTION_METHODS = ("commit", "rollback", "close")


def settle(cursor: Any, own: bool, rows: int, limit: int) -> None:
    """End a limited write: undo it if it touched more than ``limit`` rows, else keep it.

    ``own``: the guard opened the transaction itself (an autocommit connection), so it
    commits or rolls back the whole of it. Otherwise the write ran under a savepoint inside
    the application's transaction, and only the savepoint is undone, then released.
    """
    if own:
        cursor.execute("ROLLBACK" if rows > limit else "COMMIT")
        return
    if rows > limit:
        cursor.execute(f"ROLLBACK TO SAVEPOINT {SAVEPOINT}")
    cursor.execute(f"RELEASE SAVEPOINT {SAVEPOINT}")


class GuardedCursor:
    """A DB-API cursor whose ``execute``/``executemany`` are checked; the rest is the driver's."""

    def __init__(self, cursor: Any, connection: GuardedConnection) -> None:
        self._cursor = cursor
        self._connection = connection
        self._guard = connection.guard
        self._verdict = connection.guard.judge.verdict
        # The driver's own methods, bound once: a __getattr__ fallback costs about 2 µs a
        # call, as much as the whole check, on the hottest calls an application makes.
        for name in _CURSOR_METHODS:
            method = getattr(cursor, name, None)
            if method is not None:
                setattr(self, name, method)

    @property
    def rowcount(self) -> Any:
        return self._cursor.rowcount

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def connection(self) -> GuardedConnection:
        return self._connection

    @property
    def unguarded(self) -> Any:
        """The driver's own cursor (no checks): for driver-specific calls only."""
        return self._cursor

    def execute(self, sql: Any, *args: Any, **kwargs: Any) -> Any:
        if type(sql) is str and self._verdict(sql).plain:  # the common case, kept short
            result = self._cursor.execute(sql, *args, **kwargs)
            return self if result is self._cursor else result
        return self._run(self._cursor.execute, sql, args, kwargs)

    def executemany(self, sql: Any, *args: Any, **kwargs: Any) -> Any:
        # The limit applies to the statement's total over all parameter sets.
        return self._run(self._cursor.executemany, sql, args, kwargs)

    def executescript(self, script: str) -> Any:
        """sqlite3's script runner: every statement is checked; rows are not counted."""
        self._guard.admit(script, script if isinstance(script, str) else None)
        result = self._cursor.executescript(script)
        return self if result is self._cursor else result

    def _run(self, method: Callable[..., Any], sql: Any, args: Any, kwargs: Any) -> Any:
        text = sql if isinstance(sql, str) else render(sql, self._cursor)
        limit = self._guard.admit(sql, text)
        if limit is None:
            result = method(sql, *args, **kwargs)
        elif self._guard.dry_run:
            result = method(sql, *args, **kwargs)
            self._guard.rows_touched(text or repr(sql), self._cursor.rowcount, limit)
        else:
            result = self._limited(method, sql, text or repr(sql), limit, args, kwargs)
        return self if result is self._cursor else result

    def _limited(
        self,
        method: Callable[..., Any],
        sql: Any,
        text: str,
        limit: int,
        args: Any,
        kwargs: Any,
    ) -> Any:
        # Transaction control goes through a second cursor: on the statement's own cursor
        # it would overwrite the rowcount and results the application reads next.
        raw = self._connection.unguarded
        cursor = raw.cursor()
        try:
            return self._bounded(
                cursor, transaction_plan(raw), method, sql, text, limit, args, kwargs
            )
        finally:
            cursor.close()

    def _bounded(
        self,
        cursor: Any,
        plan: Plan,
        method: Callable[..., Any],
        sql: Any,
        text: str,
        limit: int,
        args: Any,
        kwargs: Any,
    ) -> Any:
        if plan == "own":
            cursor.execute("BEGIN")
            try:
                result = method(sql, *args, **kwargs)
                rows = self._cursor.rowcount
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            settle(cursor, True, rows, limit)
            self._guard.rows_touched(text, rows, limit)
            return result
        raw = self._connection.unguarded
        if plan == "begin_savepoint":
            cursor.execute(begin_statement(raw))
        cursor.execute(f"SAVEPOINT {SAVEPOINT}")
        try:
            result = method(sql, *args, **kwargs)
        except BaseException:
            # The driver's error reaches the application unchanged. In PostgreSQL the
            # transaction is then aborted, as it would be unguarded, and the savepoint goes
            # with its rollback. SQLite keeps going, so the savepoint is released here: on an
            # autocommit connection it is the transaction, and must not stay open.
            if _is_sqlite(raw):
                with contextlib.suppress(Exception):
                    cursor.execute(f"RELEASE SAVEPOINT {SAVEPOINT}")
            raise
        rows = self._cursor.rowcount
        settle(cursor, False, rows, limit)
        self._guard.rows_touched(text, rows, limit)
        return result

    def __iter__(self) -> Iterator[Any]:
        return iter(self._cursor)

    def __enter__(self) -> GuardedCursor:
        self._cursor.__enter__()
        return self

    def __exit__(self, *exc: object) -> Any:
        return self._cursor.__exit__(*exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


class GuardedConnection:
    """A DB-API connection whose cursors refuse destructive SQL; see :func:`guard`."""

    def __init__(self, connection: Any, guard: SqlGuard) -> None:
        self._connection = connection
        self.guard = guard
        for name in _CONNECTION_METHODS:
            method = getattr(connection, name, None)
            if method is not None:
                setattr(self, name, method)

    @property
    def unguarded(self) -> Any:
        """The driver's own connection (no checks): for driver-specific calls only."""
        return self._connection

    @property
    def findings(self) -> list[Finding]:
        """What dry run would have refused (oldest first, bounded)."""
        return list(self.guard.findings)

    def cursor(self, *args: Any, **kwargs: Any) -> GuardedCursor:
        return GuardedCursor(self._connection.cursor(*args, **kwargs), self)

    def _shortcut(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """A connection-level shortcut, run through a guarded cursor if the driver has it."""
        if not hasattr(self._connection, name):
            raise AttributeError(f"{type(self._connection).__name__} has no {name}()")
        return getattr(self.cursor(), name)(*args, **kwargs)

    def execute(self, sql: Any, *args: Any, **kwargs: Any) -> Any:
        """The connection-level shortcut of sqlite3 and psycopg, through a guarded cursor."""
        return self._shortcut("execute", sql, *args, **kwargs)

    def executemany(self, sql: Any, *args: Any, **kwargs: Any) -> Any:
        return self._shortcut("executemany", sql, *args, **kwargs)

    def executescript(self, script: str) -> Any:
        return self._shortcut("executescript", script)

    def __enter__(self) -> GuardedConnection:
        self._connection.__enter__()
        return self

    def __exit__(self, *exc: object) -> Any:
        return self._connection.__exit__(*exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)


def guard(
    connection: Any,
    *,
    max_rows: int | None = None,
    allow: AllowArg = (),
    dry_run: bool = False,
    dialect: str | None = None,
    on_unparseable: Unparseable = "pass",
    cache_size: int = 1024,
) -> GuardedConnection:
    """Wrap a DB-API 2.0 ``connection``; its cursors refuse destructive statements.

    ``max_rows``: the most rows one UPDATE/DELETE may touch (None: no limit).
    ``allow``: rules this connection may always break (see :data:`RULES`).
    ``dry_run``: run everything, but log and record in ``.findings`` what would have
    been refused. ``dialect``: the sqlglot dialect (default: from the driver).
    ``on_unparseable``: ``"pass"`` (logged once per text) or ``"refuse"``.
    """
    if connection is None or not callable(getattr(connection, "cursor", None)):
        raise ConfigError(f"guard() needs a DB-API connection (with cursor()), got {connection!r}")
    return GuardedConnection(
        connection,
        SqlGuard(
            dialect=dialect if dialect is not None else driver_dialect(connection),
            max_rows=max_rows,
            allow=allow,
            dry_run=dry_run,
            on_unparseable=on_unparseable,
            cache_size=cache_size,
        ),
    )
