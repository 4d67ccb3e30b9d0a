"""The idempotency names are public, and Redis is imported only when used."""

from __future__ import annotations

import seawall.http
import seawall.stores


def test_the_stores_are_exported() -> None:
    names = seawall.stores.__all__
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
