"""One process of a fleet sharing a quota on Redis: offers load, counts what it was given.

Run as ``python -m tests.integration.ratelimit.quota_worker URL PREFIX OFFER ON_ERROR``.
It prints ``ready``, reads the start time (``time.time()`` seconds) and the duration
from stdin, offers ``OFFER`` requests per second of the key ``tenant`` for that long,
and prints one JSON line: what the shared limiter (Redis) admitted and what a limiter of
the same quota in this process alone (memory) would have admitted for the same requests.
The limiter's log lines go to stderr.
"""

from __future__ import annotations

import json
import logging
import sys
import time

from seawall import RateLimited, RateLimiter
from seawall.stores import RedisRateLimitStore

RATE, BURST = 200.0, 50


def main() -> None:
    url, prefix, offer, on_error = sys.argv[1:5]
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(name)s %(levelname)s %(message)s"
    )
    store = RedisRateLimitStore.from_url(url, prefix=prefix)
    shared = RateLimiter("fleet", rate=RATE, burst=BURST, store=store, on_store_error=on_error)  # type: ignore[arg-type]
    alone = RateLimiter("alone", rate=RATE, burst=BURST)
    store.client.ping()  # type: ignore[union-attr]  # connected before the clock starts
    print("ready", flush=True)
    start, duration = (float(part) for part in sys.stdin.readline().split())
    interval = 1.0 / float(offer)
    counts = {"admitted": 0, "limited": 0, "alone_admitted": 0, "offered": 0}
    slot = start
    while True:
        now = time.time()
        if now < slot:
            time.sleep(slot - now)
        elif slot < now - interval:  # fell behind: skip missed slots rather than burst
            slot = now
        if slot >= start + duration:
            break
        slot += interval
        counts["offered"] += 1
        try:
            shared.acquire("tenant")
            counts["admitted"] += 1
        except RateLimited:
            counts["limited"] += 1
        try:
            alone.acquire("tenant")
            counts["alone_admitted"] += 1
        except RateLimited:
            pass
    counts["store_errors"] = shared.store_errors
    store.close()
    print(json.dumps(counts), flush=True)


if __name__ == "__main__":
    main()
