"""Checked by mypy --strict in `make test` (not run by pytest): decorated functions keep
their exact types, and call/acall infer results from the callable."""

from __future__ import annotations

from typing import assert_type

import seawall

retry = seawall.Retry()
pipeline = seawall.standard("payments")
hedge = seawall.Hedge("p95", budget=seawall.TokenThrottle(max_tokens=10, token_ratio=0.1))
hedged = seawall.standard("search", hedge=seawall.Hedge(0.02))


@retry
def add(a: int, b: int = 2) -> int:
    return a + b


@pipeline
async def fetch(url: str, *, attempts: int = 1) -> bytes:
    return url.encode()


async def main() -> None:
    assert_type(add(1), int)
    assert_type(await fetch("x", attempts=2), bytes)
    assert_type(retry.call(add, 1, 2), int)
    assert_type(await pipeline.acall(fetch, "y"), bytes)
    assert_type(await hedge.acall(fetch, "z"), bytes)
    assert_type(await hedged.acall(fetch, "z"), bytes)
    assert_type(hedge.call(add, 1), int)
    assert_type(hedged.hedge, seawall.Hedge | None)
    assert_type(seawall.remaining(), float | None)
    assert_type(seawall.downstream_timeout(1.0), float | None)
    assert_type(seawall.idempotency_key(), str)
