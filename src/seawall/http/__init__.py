"""seawall at the HTTP edge (extra ``seawall[http]``).

Client: httpx transports with deadlines, retries, idempotency keys, and a breaker and
bulkhead per host. Server: pure-ASGI middlewares for deadlines, load shedding,
idempotency, health probes and degraded answers — alone or all at once with
:func:`protect` — and :func:`serve` for graceful shutdown on uvicorn.
"""

from seawall.http._client import (
    AsyncClient,
    AsyncTransport,
    Client,
    ClientPolicies,
    HTTPStatusError,
    Transport,
    parse_retry_after,
)
from seawall.http._deadlines import DeadlineMiddleware
from seawall.http._degraded import DegradedMiddleware
from seawall.http._health import Health, HealthMiddleware
from seawall.http._idempotency import IdempotencyEvent, IdempotencyMiddleware
from seawall.http._principal import DEFAULT_SESSION_COOKIES, session_principal
from seawall.http._protect import Protected, protect
from seawall.http._serve import serve
from seawall.http._shedding import SheddingMiddleware

__all__ = [
    "DEFAULT_SESSION_COOKIES",
    "AsyncClient",
    "AsyncTransport",
    "Client",
    "ClientPolicies",
    "DeadlineMiddleware",
    "DegradedMiddleware",
    "HTTPStatusError",
    "Health",
    "HealthMiddleware",
    "IdempotencyEvent",
    "IdempotencyMiddleware",
    "Protected",
    "SheddingMiddleware",
    "Transport",
    "parse_retry_after",
    "protect",
    "serve",
    "session_principal",
]
