"""Exactly-once effects through a network that loses responses after the server acted.

500 charges go through the seawall client (retries, automatic Idempotency-Key) and a
real relay that resets ~30 % of connections *after* the server processed the request
and answered. Each run counts the rows the server wrote. With IdempotencyMiddleware on
SQLiteStore or RedisStore: exactly 500 effects. Without it: every reset is a duplicate.
Run with ``-s`` to see the table.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seawall.http import Client, IdempotencyEvent, IdempotencyMiddleware
from seawall.stores import IdempotencyStore, RedisStore, SQLiteStore
from seawall.testing import FakeClock, capture_events
from tests.integration.http.charges import ChargeApp, effects
from tests.integration.http.relay import ResettingRelay
from tests.integration.http.servers import ServerThread

CHARGES = 500
WORKERS = 4
RESET_RATIO = 0.3
SEED = 20240601


@dataclass(frozen=True)
class RunResult:
    name: str
    attempts: int  # requests the server processed
    resets: int  # responses the relay threw away
    effects: int  # rows written
    duplicates: int  # rows beyond the first per charge
    lost: int  # charges with no row
    replays: int  # stored responses served
    answered: Counter[int]  # final status the client got, per status

    def row(self) -> str:
        ok = self.answered[201]
        return (
            f"{self.name:<16}{CHARGES:>9}{self.attempts:>10}{self.resets:>8}{self.effects:>9}"
            f"{self.duplicates:>12}{self.lost:>6}{self.replays:>9}{ok:>8}"
        )


HEADER = (
    f"{'run':<16}{'charges':>9}{'attempts':>10}{'resets':>8}{'effects':>9}"
    f"{'duplicates':>12}{'lost':>6}{'replays':>9}{'201s':>8}"
)


def run_charges(
    name: str,
    tmp_path: Path,
    store: IdempotencyStore | None,
    *cleanup: Callable[[], Awaitable[None]],
) -> RunResult:
    charge_db = tmp_path / f"charges-{name.replace(' ', '-')}.db"
    shop = ChargeApp(charge_db)
    app: Any = shop if store is None else IdempotencyMiddleware(shop, store=store)
    answered: Counter[int] = Counter()
    lock = threading.Lock()
    # Backoff sleeps on a FakeClock, so 500 requests take seconds, not minutes. At a 30 %
    # fault rate the default 10 % retry budget would (rightly) stop retrying; and with up
    # to 10 attempts a charge fails only if all 10 answers are reset (0.3**10 ≈ 6e-6).
    # Ten attempts back off for longer than the default 10 s total, and the four workers'
    # sleeps all advance the one clock: no total bound here.
    client = Client(
        clock=FakeClock(),
        attempts=10,
        total_timeout=float("inf"),
        retry_budget=10.0,
        breaker={"failure_rate": 1.0},
    )

    def worker(ids: range, url: str) -> None:
        for i in ids:
            status = client.post(f"{url}/charges", json={"charge": i}).status_code
            with lock:
                answered[status] += 1

    with capture_events() as events, ServerThread(app, *cleanup) as server_url:
        relay = ResettingRelay(int(server_url.rsplit(":", 1)[1]), ratio=RESET_RATIO, seed=SEED)
        with relay as relay_url, client:
            threads = [
                threading.Thread(target=worker, args=(range(w, CHARGES, WORKERS), relay_url))
                for w in range(WORKERS)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=60)
    shop.close()
    counts = effects(charge_db)
    replays = [e for e in events if isinstance(e, IdempotencyEvent) and e.outcome == "replayed"]
    return RunResult(
        name=name,
        attempts=relay.requests,
        resets=relay.resets,
        effects=sum(counts.values()),
        duplicates=sum(n - 1 for n in counts.values()),
        lost=CHARGES - len(counts),
        replays=len(replays),
        answered=answered,
    )


def test_500_charges_through_resets_take_effect_exactly_once(
    tmp_path: Path, redis_server: str, redis_prefix: str
) -> None:
    sqlite = SQLiteStore(tmp_path / "idempotency.db")
    redis = RedisStore.from_url(redis_server, prefix=redis_prefix)
    runs = [
        run_charges("SQLiteStore", tmp_path, sqlite),
        run_charges("RedisStore", tmp_path, redis, redis.aclose),
        run_charges("no idempotency", tmp_path, None),
    ]
    sqlite.close()
    print(f"\n{HEADER}\n" + "\n".join(run.row() for run in runs))

    for run in runs:
        # The relay really did lose ~30 % of the answers, after the server acted...
        assert 0.2 < run.resets / run.attempts < 0.4, run
        assert run.attempts == CHARGES + run.resets
        # ...and the client still got every charge answered.
        assert run.answered == {201: CHARGES}, run
        assert run.lost == 0
    for run in runs[:2]:
        assert (run.effects, run.duplicates, run.lost) == (CHARGES, 0, 0), run
        # Every lost answer was followed by a retry that got the stored one.
        assert run.replays == run.resets
    naive = runs[2]
    assert naive.duplicates == naive.resets > 0
    assert naive.effects == CHARGES + naive.resets
