"""A real Prometheus scrapes a real protected service while its dependency fails and heals.

The service is a Starlette app under ``protect()`` on uvicorn. Its ``seawall.http``
client calls a downstream app (uvicorn too) through seawall's fault proxy. The downstream
is switched to 100 % 503 and back; then the service is overloaded with low- and
critical-priority requests. Prometheus (Debian's server, 200 ms scrapes) scrapes the
service's ``/metrics`` throughout, and every assertion is PromQL through its HTTP API.

:func:`scraped_service` is the hook for further checks against the same run (e.g. that
every panel of a generated Grafana dashboard returns data): it yields the Prometheus, the
scrape job and the service's name after every phase ran.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

import seawall
from seawall.http import AsyncClient, protect

pytest.importorskip("prometheus_client")
starlette = pytest.importorskip("starlette")

from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import JSONResponse, PlainTextResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

SERVICE = "checkout"
CLIENT = "payments"
JOB = "seawall-checkout"
COOLDOWN = 1.5  # seconds the breaker stays open: several 200 ms scrapes see it


@dataclass(frozen=True)
class ScrapedService:
    """The running setup: a Prometheus that scraped the service through every phase."""

    prometheus: Any
    job: str
    service: str
    client: str
    base_url: str


class Downstream:
    """The dependency: answers 200, or 503 to everything while ``failing``."""

    def __init__(self) -> None:
        self.failing = False

        async def pay(request: Request) -> PlainTextResponse:
            if self.failing:
                return PlainTextResponse("down", status_code=503)
            return PlainTextResponse("paid")

        self.app = Starlette(routes=[Route("/pay", pay)])


def _service(downstream_url: str) -> Any:
    client = AsyncClient(
        name=CLIENT,
        attempts=2,
        backoff=seawall.Backoff.exponential(initial=0.01, jitter=0.0),
        timeout=2.0,
        total_timeout=4.0,
        breaker={"min_calls": 4, "window": 2.0, "cooldown": COOLDOWN, "half_open_calls": 1},
    )
    loops: list[asyncio.AbstractEventLoop] = []

    async def order(request: Request) -> JSONResponse:
        if not loops:
            loops.append(asyncio.get_running_loop())
        try:
            answer = await client.get(f"{downstream_url}/pay")
        except seawall.Rejected:
            return JSONResponse({"paid": False, "why": "breaker open"}, status_code=503)
        return JSONResponse({"paid": answer.status_code == 200}, status_code=answer.status_code)

    async def report(request: Request) -> PlainTextResponse:
        await asyncio.sleep(0.3)  # a slow page: the overload phase fills the shedder
        return PlainTextResponse("report")

    # A local dependency with a fallback: its price is a default while it fails.
    prices = seawall.standard("prices", attempts=1, fallback=seawall.Fallback(value=0))

    @prices
    def price(sku: str) -> int:
        if sku == "missing":
            raise ConnectionError("no price")
        return 7

    async def quote(request: Request) -> JSONResponse:
        return JSONResponse({"price": price(request.path_params["sku"])})

    app = Starlette(
        routes=[
            Route("/orders/{id}", order),
            Route("/report", report),
            Route("/quote/{sku}", quote),
        ]
    )
    shedder = seawall.LoadShedder("checkout-http", limit=4, max_queue=0)

    def close() -> None:
        """Close the client on uvicorn's loop, where its connections live."""
        if loops:
            asyncio.run_coroutine_threadsafe(client.aclose(), loops[0]).result(timeout=5)

    return protect(app, shedder=shedder, service=SERVICE), client, close


def _breaker_state(client: Any, url: str) -> str:
    return str(client.policies(url).breaker.state)


async def _overload(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=5.0) as http:

        async def one(priority: str) -> int:
            answer = await http.get("/report", headers={"X-Request-Priority": priority})
            return answer.status_code

        calls = [one("low") for _ in range(16)] + [one("critical") for _ in range(2)]
        statuses = await asyncio.gather(*calls)
    assert 503 in statuses, statuses
    assert 200 in statuses, statuses


def _wait(condition: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def scraped_service(prometheus_server: Any) -> Iterator[ScrapedService]:
    """The service after every phase ran, scraped all along; see the module docstring."""
    from seawall.chaos import FaultProxy
    from tests.integration.conftest import ThreadedUvicorn as serve

    downstream = Downstream()
    with serve(downstream.app) as downstream_url:
        with FaultProxy(downstream_url.removeprefix("http://")) as proxy:
            app, client, close = _service(f"http://{proxy.listen}")
            with serve(app) as base_url:
                target = base_url.removeprefix("http://")
                prometheus_server.scrape({JOB: [target]})
                pay_url = f"http://{proxy.listen}/pay"
                http = httpx.Client(base_url=base_url, timeout=5.0)
                try:
                    # Healthy: calls succeed on the first try.
                    for i in range(6):
                        assert http.get(f"/orders/{i}").status_code == 200
                    assert http.get("/quote/missing").json() == {"price": 0}  # fell back
                    time.sleep(0.6)  # scraped healthy: the transition counters at 0
                    # 100 % 503 downstream: retried, failing, then the breaker opens.
                    downstream.failing = True
                    for i in range(20):
                        http.get(f"/orders/{i}")
                        if _breaker_state(client, pay_url) == "open":
                            break
                    assert _breaker_state(client, pay_url) == "open"
                    time.sleep(0.8)  # open across several scrapes
                    # Healed: after the cooldown one probe closes the breaker.
                    downstream.failing = False
                    time.sleep(COOLDOWN)
                    _wait(
                        lambda: (
                            http.get("/orders/1").status_code == 200
                            and _breaker_state(client, pay_url) == "closed"
                        ),
                        5.0,
                        "the breaker to close",
                    )
                    # Overload: low-priority requests are shed, critical ones are not.
                    asyncio.run(_overload(base_url))
                    time.sleep(0.8)  # the last counts scraped
                    yield ScrapedService(prometheus_server, JOB, SERVICE, CLIENT, base_url)
                finally:
                    http.close()
                    close()
                    prometheus_server.scrape({}, wait=False)


def _value(service: ScrapedService, promql: str) -> float:
    value = service.prometheus.value(promql)
    assert value is not None, f"no data for {promql}"
    return float(value)


def test_breaker_transitions_are_counted_closed_to_open_then_half_open_to_closed(
    scraped_service: ScrapedService,
) -> None:
    edge = f'seawall_circuit_breaker_transitions_total{{job="{JOB}",name="{CLIENT}"'
    opened = f'{edge},from_state="closed",to_state="open"}}'
    closed = f'{edge},from_state="half_open",to_state="closed"}}'
    assert _value(scraped_service, f"max_over_time({opened}[5m])") >= 1
    assert _value(scraped_service, f"increase({opened}[5m])") > 0
    assert _value(scraped_service, f"max_over_time({closed}[5m])") >= 1
    assert _value(scraped_service, f"increase({closed}[5m])") > 0


def test_the_open_state_gauge_was_1_while_open_and_is_0_after(
    scraped_service: ScrapedService,
) -> None:
    state = f'seawall_circuit_breaker_state{{job="{JOB}",name="{CLIENT}",state="open"}}'
    assert _value(scraped_service, f"max_over_time({state}[5m])") == 1
    assert _value(scraped_service, state) == 0


def test_retries_are_counted_by_outcome(scraped_service: ScrapedService) -> None:
    calls = f'seawall_retry_calls_total{{job="{JOB}",name="{CLIENT}"'
    assert _value(scraped_service, f'{calls},outcome="success_first_try"}}') >= 6
    assert _value(scraped_service, f'{calls},outcome="failed_after_retry"}}') >= 1
    retried = f'seawall_retry_attempts_total{{job="{JOB}",name="{CLIENT}",attempt_type="retry"}}'
    assert _value(scraped_service, retried) >= 1


def test_shed_requests_are_counted_by_priority(scraped_service: ScrapedService) -> None:
    # Summed over series: a shedder left in the process by another test shows as its own.
    shed = f'seawall_load_shedder_requests_total{{job="{JOB}",decision="shed"'
    assert _value(scraped_service, f'sum({shed},priority="low"}})') >= 1
    assert _value(scraped_service, f'sum({shed},priority="critical"}})') == 0
    admitted = (
        f'sum(seawall_load_shedder_requests_total{{job="{JOB}",priority="critical",'
        'decision="admitted"})'
    )
    assert _value(scraped_service, admitted) >= 2


def test_http_histograms_label_routes_by_template_and_attempts_by_status(
    scraped_service: ScrapedService,
) -> None:
    server = (
        f'http_server_request_duration_seconds_count{{job="{JOB}",http_route="/orders/{{id}}",'
        'http_request_method="GET",http_response_status_code="200"}'
    )
    assert _value(scraped_service, server) >= 6
    # Never the raw path (one series per id): every request of this run under its template.
    routes = scraped_service.prometheus.query(
        f'count by (http_route) (http_server_request_duration_seconds_count{{job="{JOB}"}})'
    )
    seen = {r["metric"]["http_route"] for r in routes}
    assert {"/orders/{id}", "/report", "/quote/{sku}"} <= seen
    assert not [
        route for route in seen if route.startswith(("/orders/", "/quote/")) and "{" not in route
    ]
    failed = (
        f'http_client_request_duration_seconds_count{{job="{JOB}",name="{CLIENT}",'
        'http_response_status_code="503"}'
    )
    assert _value(scraped_service, failed) >= 2


def test_every_grafana_panel_query_returns_data(scraped_service: ScrapedService) -> None:
    kube = pytest.importorskip("seawall.kube")
    panel_queries = getattr(kube, "panel_queries", None)
    if panel_queries is None:
        pytest.skip("the Grafana dashboard generator (seawall.kube.panel_queries) is not here")
    empty = [q for q in panel_queries(scraped_service.job, "1m") if not _query(scraped_service, q)]
    assert empty == []


def _query(service: ScrapedService, promql: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = service.prometheus.query(promql)
    return result
