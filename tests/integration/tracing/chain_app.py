"""A traced service in a chain A -> B -> C, each in its own process.

Every process exports its finished spans as JSON lines to ``SEAWALL_TEST_SPANS``.
``SEAWALL_TEST_NEXT`` is the next hop's URL (none for the last). The last hop answers 503
to the first ``fail`` attempts of a request (read from ``X-Request-Attempt``), so the hop
before it retries; ``?fail=N`` is passed down the chain.
"""

from __future__ import annotations

import json
import os
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

import seawall
import seawall.http
import seawall.metrics

NEXT = os.environ.get("SEAWALL_TEST_NEXT")
NAME = os.environ.get("SEAWALL_TEST_NAME", "svc")
# B retries C quickly and trips its breaker after four calls at >= 50 % failures.
RETRIES = int(os.environ.get("SEAWALL_TEST_ATTEMPTS", "1"))

_out = open(os.environ["SEAWALL_TEST_SPANS"], "a", encoding="utf-8")  # noqa: SIM115 - process-long
provider = TracerProvider()
provider.add_span_processor(
    SimpleSpanProcessor(
        ConsoleSpanExporter(
            out=_out, formatter=lambda span: json.dumps(json.loads(span.to_json())) + "\n"
        )
    )
)
seawall.metrics.instrument(tracer_provider=provider)

client = (
    seawall.http.AsyncClient(
        attempts=RETRIES,
        backoff=seawall.Backoff.constant(0.02),
        retry_budget=False,
        breaker={"min_calls": 4, "failure_rate": 0.5, "cooldown": 60.0},
    )
    if NEXT
    else None
)


async def handler(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    query = scope.get("query_string", b"").decode()
    status = 200
    answer: dict[str, Any] = {"name": NAME}
    if client is not None:
        try:
            response = await client.get(f"{NEXT}/?{query}")
            status = 200 if response.status_code == 200 else 502
            answer["down"] = response.status_code
        except seawall.CircuitOpen:
            status, answer["down"] = 503, "circuit open"
    else:
        headers = dict(scope["headers"])
        attempt = int(headers.get(b"x-request-attempt", b"1"))
        fail = int(dict(p.split("=") for p in query.split("&") if "=" in p).get("fail", "0"))
        status = 503 if attempt <= fail else 200
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": json.dumps(answer).encode()})


app = seawall.http.protect(handler, maximum=10.0, idempotency=False)
