"""The guard as SQLAlchemy engine events: every statement the engine sends is checked.

``before_cursor_execute`` judges the statement (and opens the savepoint a row limit
needs); ``after_cursor_execute`` reads ``cursor.rowcount`` and rolls that statement back
when it touched too many rows. Raising from these events reaches the caller unchanged.
"""

from __future__ import annotations

from typing import Any

from seawall._errors import ConfigError
from seawall.sqlguard._dbapi import SAVEPOINT, begin_statement, settle, transaction_plan
from seawall.sqlguard._guard import AllowArg, SqlGuard, Unparseable
from seawall.sqlguard._rules import Finding

__all__ = ["EngineGuard", "engine_dialect", "guard_engine"]

_LIMIT = "_seawall_sqlguard_limit"

_DIALECTS = {"postgresql": "postgres", "mssql": "tsql", "sqlite": "sqlite", "mysql": "mysql"}


def engine_dialect(engine: Any) -> str | None:
    """The sqlglot dialect of a SQLAlchemy engine's dialect name."""
    name = str(engine.dialect.name)
    return _DIALECTS.get(name, name if name in {"oracle", "duckdb", "snowflake"} else None)


class EngineGuard:
    """The guard attached to one engine: its :attr:`findings`, and :meth:`remove`."""

    def __init__(self, engine: Any, guard: SqlGuard) -> None:
        from sqlalchemy import event

        self.engine = engine
        self.guard = guard
        self._event = event
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    @property
    def findings(self) -> list[Finding]:
        """What dry run would have refused (oldest first, bounded)."""
        return list(self.guard.findings)

    def remove(self) -> None:
        """Detach the guard from the engine."""
        self._event.remove(self.engine, "before_cursor_execute", self._before)
        self._event.remove(self.engine, "after_cursor_execute", self._after)

    def _before(
        self,
        conn: Any,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: Any,
        executemany: bool,
    ) -> None:
        limit = self.guard.admit(statement, statement)
        if context is not None:
            setattr(context, _LIMIT, limit)
        if limit is None or self.guard.dry_run or context is None:
            return
        dbapi = conn.connection.dbapi_connection
        plan = transaction_plan(dbapi)
        # Transaction control on a cursor of its own keeps the statement's rowcount intact.
        cursor = dbapi.cursor()
        if plan == "own":
            # An AUTOCOMMIT engine: no transaction to nest in, so the limit cannot undo
            # the statement alone; run it in a transaction of its own.
            cursor.execute("BEGIN")
        elif plan == "begin_savepoint":
            cursor.execute(begin_statement(dbapi))
        if plan != "own":
            cursor.execute(f"SAVEPOINT {SAVEPOINT}")
        setattr(context, _LIMIT, (limit, plan, cursor))

    def _after(
        self,
        conn: Any,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: Any,
        executemany: bool,
    ) -> None:
        state = getattr(context, _LIMIT, None)
        if state is None:
            return
        rows = cursor.rowcount
        if isinstance(state, int):  # dry run: counted, not enforced
            self.guard.rows_touched(statement, rows, state)
            return
        limit, plan, cursor = state
        settle(cursor, plan == "own", rows, limit)
        cursor.close()
        self.guard.rows_touched(statement, rows, limit)


def guard_engine(
    engine: Any,
    *,
    max_rows: int | None = None,
    allow: AllowArg = (),
    dry_run: bool = False,
    dialect: str | None = None,
    on_unparseable: Unparseable = "pass",
    cache_size: int = 1024,
) -> EngineGuard:
    """Guard every statement a SQLAlchemy ``engine`` sends, as :func:`guard` does."""
    if not hasattr(engine, "dialect"):
        raise ConfigError(f"guard_engine() needs a SQLAlchemy Engine, got {engine!r}")
    return EngineGuard(
        engine,
        SqlGuard(
            dialect=dialect if dialect is not None else engine_dialect(engine),
            max_rows=max_rows,
            allow=allow,
            dry_run=dry_run,
            on_unparseable=on_unparseable,
            cache_size=cache_size,
        ),
    )
