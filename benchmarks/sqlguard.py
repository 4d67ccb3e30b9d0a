"""What ``seawall.sqlguard`` costs an application's allowed statements on real PostgreSQL.

Run it from the repository root::

    .venv/bin/python benchmarks/sqlguard.py              # 10,000 statements a side, ~30 s
    .venv/bin/python benchmarks/sqlguard.py --quick      # smoke run, a few seconds
    .venv/bin/python benchmarks/sqlguard.py --dsn "host=... dbname=..."   # your server

What is measured
    The same workload through the raw psycopg connection and through
    ``sqlguard.guard(connection)``: statement texts repeated with new parameters, as an
    application issues them (a lookup by key, an update by key, a small range read, an
    insert). Every statement is allowed, so the guard's cost is its checking: a verdict
    looked up in the cache by text after the first parse. The figure is the ratio of
    guarded to raw time; the target is at most 1.05 and the script exits 1 when missed.
    A second, informational row guards with ``max_rows``: each UPDATE then runs inside a
    savepoint (two more round trips), the price of being able to undo it alone.

Method
    One process, one server, one run, in lockstep: each guarded row is paired with the
    raw connection, statement ``i`` runs on both before statement ``i + 1`` runs on
    either, in an order that alternates, and each is timed on its own, so drift and bursts
    of load on the shared machine land on both alike. Each connection works on its own
    keys (no lock waits). Each repeat runs ``--statements`` statements per row and pair;
    a ratio is the guarded time over the raw time of the same pair, median over repeats. The guard's own checking cost (a cached verdict
    lookup, timed alone in a tight loop) is shown beside it in µs per statement: it is
    the part of the ratio that is not noise.
    Without ``--dsn`` a throwaway PostgreSQL is started on 127.0.0.1 (as the tests do)
    and stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TARGET = 1.05
MIN_STATEMENTS = 100


def statement(conn: Any, cur: Any, i: int, base: int) -> None:
    """Statement ``i`` of the workload: four repeated texts, a commit every 100.

    Each connection works on its own 1,000 keys from ``base``, so no connection ever waits
    for another's row locks.
    """
    key = base + i % 1000
    kind = i % 4
    if kind == 0:
        cur.execute("SELECT id, status, amount FROM orders WHERE id = %s", (key,))
        cur.fetchall()
    elif kind == 1:
        cur.execute("UPDATE orders SET amount = amount + 1 WHERE id = %s", (key,))
    elif kind == 2:
        cur.execute("SELECT count(*) FROM orders WHERE id BETWEEN %s AND %s", (key, key + 10))
        cur.fetchall()
    else:
        cur.execute("INSERT INTO events (order_id, kind) VALUES (%s, %s)", (key, "touched"))
    if i % 100 == 99:
        conn.commit()


def setup(dsn: str) -> None:
    import psycopg

    with psycopg.connect(dsn) as conn:
        conn.execute("DROP TABLE IF EXISTS orders, events")
        conn.execute("CREATE TABLE orders (id int PRIMARY KEY, status text, amount int)")
        conn.execute("CREATE TABLE events (id serial PRIMARY KEY, order_id int, kind text)")
        conn.execute("INSERT INTO orders SELECT g, 'open', 0 FROM generate_series(0, 2999) g")


def measure(dsn: str, statements: int, repeats: int) -> dict[str, Any]:
    import psycopg

    from seawall import sqlguard

    setup(dsn)
    # Two server connections swap roles every repeat: the raw row runs on one, the guarded
    # row on a guard around the other. Two backends of one server differ by several percent
    # on a shared machine; swapping cancels that out of the ratio.
    first, second = psycopg.connect(dsn), psycopg.connect(dsn)
    guarded_rows = ("guard()", "guard(max_rows=100)")
    wrapped = {
        (name, id(conn)): sqlguard.guard(conn, max_rows=None if name == "guard()" else 100)
        for name in guarded_rows
        for conn in (first, second)
    }
    bases = {"raw psycopg": 0, "guard()": 1000, "guard(max_rows=100)": 2000}
    for conn in (first, second, *wrapped.values()):  # warm up: plans, the verdict cache
        cur = conn.cursor()
        for i in range(200):
            statement(conn, cur, i, 0 if conn in (first, second) else 1000)
        conn.commit()
    # Each guarded row is paired with the raw row in a phase of its own: the savepoints of
    # the limited row leave work on the server that would otherwise land on whichever row
    # runs next, and bias it.
    times: dict[str, list[float]] = {"raw psycopg": [], **{name: [] for name in guarded_rows}}
    raw_times: dict[str, list[float]] = {name: [] for name in guarded_rows}
    clock = time.perf_counter
    for repeat in range(repeats):
        raw, other = (first, second) if repeat % 2 == 0 else (second, first)
        for name in guarded_rows:
            rows = {"raw psycopg": raw, name: wrapped[name, id(other)]}
            cursors = {row: conn.cursor() for row, conn in rows.items()}
            pair = ("raw psycopg", name)
            spent = dict.fromkeys(pair, 0.0)
            for i in range(statements):
                for row in pair if i % 2 == 0 else pair[::-1]:
                    conn, cur, base = rows[row], cursors[row], bases[row]
                    start = clock()
                    statement(conn, cur, i, base)
                    spent[row] += clock() - start
            for conn in rows.values():
                conn.commit()
            times[name].append(spent[name])
            raw_times[name].append(spent["raw psycopg"])
            times["raw psycopg"].append(spent["raw psycopg"])
    first.close()
    second.close()
    check = wrapped["guard()", id(first)].guard
    texts = [
        "SELECT id, status, amount FROM orders WHERE id = %s",
        "UPDATE orders SET amount = amount + 1 WHERE id = %s",
    ]
    start = time.perf_counter()
    for _ in range(50_000):
        for text in texts:
            check.admit(text, text)
    check_us = (time.perf_counter() - start) / 100_000 * 1e6
    result: dict[str, Any] = {
        "statements_per_row": statements,
        "repeats": repeats,
        "check_us": check_us,
    }
    for name, series in times.items():
        base = raw_times.get(name)
        ratios = [t / b for t, b in zip(series, base, strict=True)] if base else [1.0]
        result[name] = {
            "median_s": statistics.median(series),
            "us_per_statement": statistics.median(series) / statements * 1e6,
            "ratio": statistics.median(ratios),
            "ratio_min": min(ratios),
            "ratio_max": max(ratios),
        }
    return result


@contextmanager
def server(dsn: str | None) -> Iterator[str]:
    if dsn is not None:
        yield dsn
        return
    sys.path.insert(0, str(ROOT))
    from tests.integration.sqlguard._postgres import postgres

    with postgres() as started:
        yield started


def main(argv: list[str] | None = None, out: Callable[[str], None] = print) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--statements", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=6)
    parser.add_argument("--dsn", default=None, help="a libpq connection string to use instead")
    parser.add_argument("--quick", action="store_true", help="1,000 statements, 1 repeat")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args(argv)
    if args.statements < MIN_STATEMENTS or args.repeats < 1:
        parser.error(f"--statements must be at least {MIN_STATEMENTS} and --repeats at least 1")
    if args.quick:
        args.statements, args.repeats = 1_000, 1
    with server(args.dsn) as dsn:
        result = measure(dsn, args.statements, args.repeats)
    out(f"{result['statements_per_row']} statements per row, median of {result['repeats']}")
    out(f"{'row':24} {'µs/stmt':>9} {'ratio':>7} {'range':>15}")
    for name in ("raw psycopg", "guard()", "guard(max_rows=100)"):
        row = result[name]
        spread = f"{row['ratio_min']:.3f}-{row['ratio_max']:.3f}"
        out(f"{name:24} {row['us_per_statement']:9.1f} {row['ratio']:7.3f} {spread:>15}")
    raw_us = result["raw psycopg"]["us_per_statement"]
    check_us = result["check_us"]
    out(
        f"guard's check alone: {check_us:.2f} µs per statement "
        f"({check_us / raw_us:.2%} of a raw statement)"
    )
    ratio = result["guard()"]["ratio"]
    verdict = "met" if ratio <= TARGET else "MISSED"
    out(f"target: guard() <= {TARGET:.2f}x raw: {verdict} ({ratio:.3f}x)")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
