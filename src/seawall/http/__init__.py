"""seawall at the HTTP edge (extra ``seawall[http]``): the resilient httpx client."""

from seawall.http._client import (
    AsyncClient,
    AsyncTransport,
    Client,
    HTTPStatusError,
    Transport,
    parse_retry_after,
)

__all__ = [
    "AsyncClient",
    "AsyncTransport",
    "Client",
    "HTTPStatusError",
    "Transport",
    "parse_retry_after",
]
