"""sqlguard on SQLAlchemy engines: the event hooks refuse and limit as the DB-API guard does."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from seawall import sqlguard

sqlalchemy = pytest.importorskip("sqlalchemy")
text = sqlalchemy.text

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "sqlite":
        url = "sqlite://"
    else:
        dsn = dict(p.split("=") for p in request.getfixturevalue("postgres_dsn").split())
        url = f"postgresql+psycopg://{dsn['user']}@{dsn['host']}:{dsn['port']}/{dsn['dbname']}"
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS orders"))
        conn.execute(text("CREATE TABLE orders (id INTEGER PRIMARY KEY, status TEXT)"))
        conn.execute(
            text("INSERT INTO orders (id, status) VALUES (:id, 'open')"),
            [{"id": i} for i in range(1000)],
        )
    yield engine
    engine.dispose()


def _count(engine: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM orders")).scalar_one())


def test_engine_refuses_a_delete_without_where(engine: Any) -> None:
    guarded = sqlguard.guard_engine(engine)
    with engine.begin() as conn, pytest.raises(sqlguard.SqlRefused, match="missing_where"):
        conn.execute(text("DELETE FROM orders"))
    guarded.remove()
    assert _count(engine) == 1000


def test_engine_rolls_back_only_the_statement_over_the_limit(engine: Any) -> None:
    guarded = sqlguard.guard_engine(engine, max_rows=100)
    with engine.begin() as conn:
        conn.execute(text("UPDATE orders SET status = 'kept' WHERE id = 500"))
        with pytest.raises(sqlguard.RowLimitExceeded):
            conn.execute(text("DELETE FROM orders WHERE id >= 0"))
        assert conn.execute(text("DELETE FROM orders WHERE id < 10")).rowcount == 10
    assert _count(engine) == 990
    with engine.connect() as conn:
        status = conn.execute(text("SELECT status FROM orders WHERE id = 500")).scalar_one()
    assert status == "kept"  # the work before the refused statement was committed
    guarded.remove()


def test_engine_dry_run_records_and_runs(engine: Any) -> None:
    guarded = sqlguard.guard_engine(engine, dry_run=True)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM orders"))
    assert [f.rule for f in guarded.findings] == ["missing_where"]
    guarded.remove()
    assert _count(engine) == 0
