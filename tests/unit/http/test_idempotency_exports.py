"""The idempotency names are public, sorted, importable, and the stores fit the protocol."""

from __future__ import annotations

import seawall.http
import seawall.stores


def test_stores_all_is_sorted_unique_and_importable() -> None:
    names = seawall.stores.__all__
    assert names == sorted(set(names))
    for name in names:
        assert getattr(seawall.stores, name) is not None
    assert {
        "IdempotencyStore",
        "MemoryStore",
        "RedisStore",
        "SQLiteStore",
        "StoredResponse",
    } <= set(names)


def test_the_middleware_is_exported_from_seawall_http() -> None:
    assert {"IdempotencyEvent", "IdempotencyMiddleware"} <= set(seawall.http.__all__)
    assert {"DEFAULT_SESSION_COOKIES", "session_principal"} <= set(seawall.http.__all__)
    assert seawall.http.IdempotencyMiddleware.__module__ == "seawall.http._idempotency"


def test_redis_is_imported_only_when_a_redis_store_is_made() -> None:
    import subprocess
    import sys

    code = "import sys, seawall.stores, seawall.http; print('redis' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
