"""One real PostgreSQL for the sqlguard tests of the session, started and stopped here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.conftest import need
from tests.integration.sqlguard._postgres import pg_bin, postgres


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    need(pg_bin("initdb") is not None, "PostgreSQL is not installed (apt-get install postgresql)")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        need(False, "psycopg is not installed (the dev extra)")
    try:
        server = postgres()
        dsn = server.__enter__()
    except Exception as exc:  # a server that cannot start fails under CI, skips locally
        need(False, f"PostgreSQL did not start: {exc}")
        raise
    try:
        yield dsn
    finally:
        server.__exit__(None, None, None)


@pytest.fixture
def pg(postgres_dsn: str) -> Iterator[Any]:
    """A fresh psycopg connection (transactions on, as the driver defaults)."""
    import psycopg

    with psycopg.connect(postgres_dsn) as conn:
        yield conn
