"""The rules on the parse tree: what is refused, what passes, in which dialect."""

from __future__ import annotations

import pytest

from seawall.sqlguard import SqlGuard


def _rules(sql: str, dialect: str | None = "postgres") -> list[str]:
    return [f.rule for f in SqlGuard(dialect=dialect).verdict(sql).findings]


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE t SET a = 1 WHERE 1=1",
        "UPDATE t SET a = 1 WHERE true",
        "UPDATE t SET a = 1 WHERE 1",
        "DELETE FROM t WHERE 'a' = 'a'",
        "DELETE FROM t WHERE id = 5 OR 1=1",
        "DELETE FROM t WHERE (id = 5) OR (2 > 1)",
        "DELETE FROM t WHERE id = id",
        "DELETE FROM t WHERE NOT (1 = 0)",
        "DELETE FROM t WHERE name LIKE '%'",
        "DELETE FROM t WHERE 1 IN (1, 2)",
        "DELETE FROM t WHERE 1=1 AND 2=2",
        "DELETE FROM t WHERE -1 < 0",
    ],
)
def test_always_true_where_is_tautological(sql: str) -> None:
    assert _rules(sql) == ["tautological_where"]


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM t WHERE id = %s",
        "DELETE FROM t WHERE id = 5 AND 1=1",
        "DELETE FROM t WHERE 1 = 0",
        "DELETE FROM t WHERE id = 5 OR 1 = 0",
        "DELETE FROM t WHERE name LIKE 'a%'",
        "DELETE FROM t WHERE id IN (SELECT id FROM u)",
        "UPDATE t SET a = 1 WHERE a <> a",
        "SELECT * FROM t",
        "INSERT INTO t VALUES (1)",
        "CREATE TABLE x (id int)",
    ],
)
def test_a_where_that_depends_on_rows_passes(sql: str) -> None:
    assert _rules(sql) == []


@pytest.mark.parametrize(
    ("sql", "rule"),
    [
        ("DELETE FROM orders", "missing_where"),
        ("UPDATE orders SET a = 1", "missing_where"),
        ("DROP TABLE orders", "drop"),
        ("DROP INDEX orders_idx", "drop"),
        ("TRUNCATE TABLE orders", "truncate"),
        ("ALTER TABLE orders DROP COLUMN a", "alter_drop"),
        ("WITH d AS (DELETE FROM orders RETURNING *) SELECT * FROM d", "missing_where"),
        ("DELETE FROM orders USING users WHERE true", "tautological_where"),
    ],
)
def test_destructive_statements_break_their_rule(sql: str, rule: str) -> None:
    assert _rules(sql) == [rule]


def test_every_statement_of_a_multi_statement_string_is_judged() -> None:
    assert _rules("SELECT 1; DROP TABLE a; DELETE FROM b", "sqlite") == ["drop", "missing_where"]


def test_writes_are_told_apart_from_reads() -> None:
    guard = SqlGuard(dialect="sqlite")
    assert guard.verdict("DELETE FROM t WHERE id = ?").writes
    assert guard.verdict("WITH x AS (SELECT 1) UPDATE t SET a = 1 WHERE id = 2").writes
    assert not guard.verdict("SELECT * FROM t WHERE id = ?").writes
    assert not guard.verdict("INSERT INTO t VALUES (?)").writes


def test_unparseable_text_is_marked_and_assumed_to_write_when_it_may() -> None:
    guard = SqlGuard(dialect="postgres")
    verdict = guard.verdict("DELETE FROM FROM (((")
    assert not verdict.parsed
    assert verdict.writes


def test_verdicts_are_cached_by_text_in_a_bounded_cache() -> None:
    guard = SqlGuard(dialect="sqlite", cache_size=2)
    for _ in range(100):
        guard.verdict("SELECT 1")
    info = guard.judge.verdict.cache_info()
    assert (info.misses, info.hits) == (1, 99)
    for n in range(10):
        guard.verdict(f"SELECT {n}")
    assert guard.judge.verdict.cache_info().currsize == 2
