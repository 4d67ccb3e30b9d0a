"""The game day's deploy-time guards: a canary judge and a SQL guard, both for real.

* **A bad deploy.** A baseline and two canaries run on loopback and take real requests:
  one canary is as good as the baseline, the other answers 500 to 5 % of requests. The
  naive rollout has no judge, so both versions reach everyone. ``seawall canary judge``
  reads the services' ``/metrics`` directly (no Prometheus needed), promotes the good
  one and stops and rolls back the bad one.
* **A SQL DELETE with no WHERE.** The same statements an operator might type run on a
  real SQLite database, raw and through :func:`seawall.sqlguard.guard`: the raw
  connection loses the table's rows; the guarded one refuses the statements and rolls
  back the DELETE that matched more rows than its limit.
"""

from __future__ import annotations

import http.client
import sqlite3
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from seawall.canary import Judgement, from_metrics, judge
from seawall.gameday._versions import Version

__all__ = ["Rollout", "canary_rollouts", "sql_statements"]

BAD_ERROR_RATIO = 0.05


@dataclass(frozen=True)
class Rollout:
    """One canary judged: whether it was bad, and the judge's verdict."""

    canary: str
    bad: bool
    judgement: Judgement

    @property
    def correct(self) -> bool:
        return self.judgement.promote != self.bad


def _load(url: str, stop: threading.Event) -> None:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=5)
    try:
        while not stop.is_set():
            conn.request("GET", "/")
            conn.getresponse().read()
    except OSError:
        return
    finally:
        conn.close()


def canary_rollouts(seed: int = 0, *, samples: int = 8, interval: float = 0.25) -> list[Rollout]:
    """Judge a good and a bad canary against one baseline, under real traffic."""
    with (
        Version("baseline", seed=seed) as baseline,
        Version("good-canary", seed=seed + 1) as good,
        Version("bad-canary", error_ratio=BAD_ERROR_RATIO, seed=seed + 2) as bad,
    ):
        stop = threading.Event()
        loaders = [
            threading.Thread(target=_load, args=(v.url, stop), daemon=True)
            for v in (baseline, good, bad)
        ]
        for thread in loaders:
            thread.start()
        try:
            time.sleep(interval)  # traffic flowing before the first scrape
            results: dict[str, Judgement] = {}

            def run(name: str, canary: Version) -> None:
                results[name] = judge(
                    from_metrics(
                        [f"{baseline.url}/metrics"],
                        [f"{canary.url}/metrics"],
                        samples=samples,
                        interval=interval,
                    )
                )

            judges = [
                threading.Thread(target=run, args=(name, v))
                for name, v in (("good", good), ("bad", bad))
            ]
            for thread in judges:
                thread.start()
            for thread in judges:
                thread.join()
        finally:
            stop.set()
            for thread in loaders:
                thread.join(timeout=5)
    return [
        Rollout("good canary (as the baseline)", False, results["good"]),
        Rollout(f"bad canary ({BAD_ERROR_RATIO:.0%} 500s)", True, results["bad"]),
    ]


# What an operator types: each statement and whether it destroys data by mistake.
STATEMENTS = (
    ("DELETE FROM orders", "missing_where"),
    ("UPDATE orders SET status = 'void' WHERE 1 = 1", "tautological_where"),
    ("DELETE FROM orders WHERE status = 'open'", "row_limit"),
    ("DROP TABLE orders", "drop"),
)
ROWS = 200


def _orders() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, status TEXT)")
    db.executemany("INSERT INTO orders (status) VALUES (?)", [("open",) for _ in range(ROWS)])
    return db


def sql_statements() -> tuple[list[str], list[str]]:
    """Run :data:`STATEMENTS` raw and guarded; returns the mistakes each let through
    (the rule a statement breaks), raw first."""
    from seawall import sqlguard  # the ``sql`` extra (sqlglot)

    through: tuple[list[str], list[str]] = ([], [])
    for side in (0, 1):
        for statement, rule in STATEMENTS:
            db = _orders()
            conn: object = db if side == 0 else sqlguard.guard(db, max_rows=50)
            before = db.execute("SELECT count(*) FROM orders").fetchone()[0]
            db.execute("BEGIN")
            try:
                conn.execute(statement)  # type: ignore[attr-defined]
                db.execute("COMMIT")
            except sqlguard.SqlRefused:
                db.execute("ROLLBACK")
            except sqlguard.RowLimitExceeded:
                db.execute("ROLLBACK")
            try:
                after = db.execute("SELECT count(*), sum(status = 'open') FROM orders").fetchone()
                intact = after == (before, before)
            except sqlite3.OperationalError:  # the table is gone
                intact = False
            if not intact:
                through[side].append(rule)
            db.close()
    return through
