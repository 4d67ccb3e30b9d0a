"""seawall for grpcio (sync and ``grpc.aio``): the gRPC client and server edges.

Client: :func:`channel` / :func:`aio_channel` (or :func:`client_interceptors` /
:func:`aio_client_interceptors` on a channel of your own, with ``NO_RETRIES``) give each
call a deadline-derived timeout, retries by the status table, idempotency key, priority
and attempt metadata, and a breaker and bulkhead per target. Server:
:func:`server_interceptor` / :func:`aio_server_interceptor` give each call a deadline
scope and priority shedding with retry pushback; :func:`add_health` and :func:`serve`
run the Health service and the graceful SIGTERM shutdown. Needs ``seawall[grpc]``.
"""

from seawall.grpc._client import IDEMPOTENCY_KEY, NO_RETRIES, Target
from seawall.grpc._interceptors import (
    AsyncClientInterceptor,
    ClientInterceptor,
    aio_channel,
    aio_client_interceptors,
    channel,
    client_interceptors,
)
from seawall.grpc._serve import add_health, aio_add_health, aio_serve, serve
from seawall.grpc._server import (
    AsyncServerInterceptor,
    ServerInterceptor,
    aio_server_interceptor,
    call_priority,
    server_interceptor,
)
from seawall.grpc._status import PUSHBACK_KEY, breaker_failure, parse_pushback, retryable

__all__ = [
    "IDEMPOTENCY_KEY",
    "NO_RETRIES",
    "PUSHBACK_KEY",
    "AsyncClientInterceptor",
    "AsyncServerInterceptor",
    "ClientInterceptor",
    "ServerInterceptor",
    "Target",
    "add_health",
    "aio_add_health",
    "aio_channel",
    "aio_client_interceptors",
    "aio_serve",
    "aio_server_interceptor",
    "breaker_failure",
    "call_priority",
    "channel",
    "client_interceptors",
    "parse_pushback",
    "retryable",
    "serve",
    "server_interceptor",
]
