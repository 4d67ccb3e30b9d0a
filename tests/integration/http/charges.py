"""A payments app whose side effects can be counted: every executed charge is a row.

Run in-process (``ChargeApp``) or as a real uvicorn process that can be restarted and
killed (``python -m tests.integration.http.charges --charges C.db --store S.db``; it
prints ``LISTENING <port>`` once it accepts connections on 127.0.0.1).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any


class ChargeApp:
    """``POST /charges`` with ``{"charge": id}`` inserts one row per execution: 201.

    ``gate``: when given, each charge sets ``entered`` and waits for the gate before it
    commits (a slow handler). ``hang``: each charge hangs before committing (a handler
    that never finishes, for crash tests).
    """

    def __init__(
        self, db: str | Path, *, gate: threading.Event | None = None, hang: bool = False
    ) -> None:
        self.path = str(db)
        self.gate = gate
        self.hang = hang
        self.entered = threading.Event()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # durable across a process crash
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS charges (row INTEGER PRIMARY KEY, charge TEXT NOT NULL)"
        )

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["method"] != "POST" or scope["path"] != "/charges":
            await _json(send, 404, {"error": "not found"})
            return
        charge = str(json.loads(body)["charge"])
        if self.gate is not None:
            self.entered.set()
            await asyncio.to_thread(self.gate.wait, 10.0)
        if self.hang:
            await asyncio.sleep(3600)
        row = self._db.execute("INSERT INTO charges (charge) VALUES (?)", (charge,)).lastrowid
        await _json(send, 201, {"charge": charge, "row": row})

    def close(self) -> None:
        self._db.close()


def effects(db: str | Path) -> Counter[str]:
    """How many times each charge was executed."""
    conn = sqlite3.connect(str(db))
    try:
        return Counter(charge for (charge,) in conn.execute("SELECT charge FROM charges"))
    finally:
        conn.close()


async def _json(send: Any, status: int, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    import uvicorn

    from seawall.http import IdempotencyMiddleware
    from seawall.stores import SQLiteStore

    parser = argparse.ArgumentParser()
    parser.add_argument("--charges", required=True)
    parser.add_argument("--store", required=True)
    parser.add_argument("--lock-ttl", type=float, default=60.0)
    parser.add_argument("--hang", action="store_true")
    args = parser.parse_args()
    app = IdempotencyMiddleware(
        ChargeApp(args.charges, hang=args.hang),
        store=SQLiteStore(args.store),
        lock_ttl=args.lock_ttl,
        require=("/charges",),
    )
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)

    def announce() -> None:
        while not server.started:
            time.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        print(f"LISTENING {port}", flush=True)

    threading.Thread(target=announce, daemon=True).start()
    server.run()


if __name__ == "__main__":
    main()
