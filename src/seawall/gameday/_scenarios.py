"""The built-in game day: one scenario per failure mode, naive vs seawall, measured.

A small shop runs on loopback in four processes (the downstreams, each gateway, the fault
proxies); this process drives open-loop load at a gateway, injects the scenario's fault
for real through the proxies' Toxiproxy-compatible REST API (or a downstream's deploy
switch), and measures what the shopper saw and what the downstreams suffered. Every
scenario runs twice on the same faults and load — against the *naive* gateway and the
*seawall* one — and each pair ends in a verdict on the metric that scenario is about.

Runs are sequential, and each gateway has its own process, so the two never compete for
the two cores nor share an event loop.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx

from seawall.chaos import LoadGenerator, LoadResult
from seawall.gameday._measure import Run, measure

__all__ = ["SCENARIOS", "Scenario", "Shop", "ShopError", "run_scenario", "running_shop"]

GATEWAYS = ("naive", "seawall")
SERVICES = ("catalog", "recommendations", "payments")
BUDGET_MS = 2000  # every shopper's request carries a 2 s budget and gives up after it
HERD_KEYS = 4


def free_ports(n: int) -> list[int]:
    """``n`` distinct free loopback ports: every probe socket stays open until all are
    picked, or the OS could hand the same just-closed port out twice."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


class Shop:
    """The shop's three processes on loopback, and the switches a scenario pulls."""

    def __init__(self, workdir: Path, *, seed: int = 0) -> None:
        self.workdir = workdir
        self.seed = seed
        ports = iter(free_ports(len(SERVICES) * (1 + len(GATEWAYS)) + 1 + len(GATEWAYS)))
        self.down = {name: next(ports) for name in SERVICES}
        self.listen = {(g, s): next(ports) for g in GATEWAYS for s in SERVICES}
        self.control_port = next(ports)
        self.gateway_port = {g: next(ports) for g in GATEWAYS}
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[IO[bytes]] = []

    # -- lifetime ----------------------------------------------------------------------

    def _spawn(self, name: str, args: list[str]) -> None:
        log = open(self.workdir / f"{name}.log", "wb")  # noqa: SIM115 - closed by stop()
        self.logs.append(log)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.procs.append(
            subprocess.Popen([sys.executable, *args], stdout=log, stderr=log, env=env)
        )

    def start(self) -> None:
        d = self.down
        self._spawn(
            "downstreams",
            ["-m", "seawall.gameday._shop", "downstreams", "--data", str(self.workdir)]
            + [f"--{name}={port}" for name, port in d.items()],
        )
        proxy_args = ["-m", "seawall.cli", "proxy", "--port", str(self.control_port)]
        proxy_args += ["--seed", str(self.seed)]
        for (gateway, service), port in self.listen.items():
            proxy_args += ["--proxy", f"{gateway}-{service}", f"127.0.0.1:{port}"]
            proxy_args.append(f"127.0.0.1:{d[service]}")
        self._spawn("proxy", proxy_args)
        upstreams = {
            g: [f"http://127.0.0.1:{self.listen[g, s]}" for s in SERVICES] for g in GATEWAYS
        }
        for gateway in GATEWAYS:
            self._spawn(
                f"gateway-{gateway}",
                [
                    *("-m", "seawall.gameday._shop", "gateway", gateway),
                    *("--port", str(self.gateway_port[gateway]), "--seed", str(self.seed)),
                    *("--upstreams", *upstreams[gateway]),
                ],
            )
        checks = [f"http://127.0.0.1:{p}/livez" for p in d.values()]
        checks += [f"{self.url(g)}/livez" for g in GATEWAYS]
        checks.append(f"{self.control}/version")
        deadline = time.monotonic() + 30
        for url in checks:
            while True:
                try:
                    if httpx.get(url, timeout=1.0).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                dead = [p for p in self.procs if p.poll() is not None]
                if dead or time.monotonic() > deadline:
                    logs = "\n".join(
                        f"--- {f.name}\n{f.read_text(errors='replace')[-2000:]}"
                        for f in self.workdir.glob("*.log")
                    )
                    self.stop()
                    raise RuntimeError(f"the shop did not start ({url}):\n{logs}")
                time.sleep(0.05)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        self.procs.clear()
        for log in self.logs:
            log.close()
        self.logs.clear()

    # -- addresses and switches ---------------------------------------------------------

    @property
    def control(self) -> str:
        return f"http://127.0.0.1:{self.control_port}"

    def url(self, gateway: str) -> str:
        return f"http://127.0.0.1:{self.gateway_port[gateway]}"

    def downstream(self, service: str) -> str:
        return f"http://127.0.0.1:{self.down[service]}"

    async def toxic(
        self,
        gateway: str,
        service: str,
        kind: str,
        *,
        stream: str = "downstream",
        toxicity: float = 1.0,
        **attributes: int,
    ) -> None:
        body = {
            "name": f"{kind}_{stream}",
            "type": kind,
            "stream": stream,
            "toxicity": toxicity,
            "attributes": attributes,
        }
        async with httpx.AsyncClient() as client:
            url = f"{self.control}/proxies/{gateway}-{service}/toxics"
            (await client.post(url, json=body)).raise_for_status()

    async def deploy(self, service: str, **mode: Any) -> None:
        async with httpx.AsyncClient() as client:
            url = f"{self.downstream(service)}/admin/deploy"
            (await client.post(url, json=mode)).raise_for_status()

    async def reset(self) -> None:
        """No toxics, every downstream healthy with zeroed counters."""
        async with httpx.AsyncClient() as client:
            (await client.post(f"{self.control}/reset")).raise_for_status()
            for service in SERVICES:
                (await client.post(f"{self.downstream(service)}/admin/reset")).raise_for_status()

    async def stats(self) -> dict[str, dict[str, Any]]:
        async with httpx.AsyncClient() as client:
            return {
                s: (await client.get(f"{self.downstream(s)}/admin/stats")).json() for s in SERVICES
            }

    async def warm(self, gateway: str, keys: list[str]) -> None:
        async with httpx.AsyncClient(timeout=30) as client:
            (await client.post(f"{self.url(gateway)}/warm", json=keys)).raise_for_status()


Fault = Callable[[Shop, str], Awaitable[None]]


async def _nothing(shop: Shop, gateway: str) -> None:
    return None


@dataclass(frozen=True)
class Scenario:
    """One failure mode: the load, the fault and its window, and what decides the verdict."""

    name: str
    title: str
    mode: str  # the failure mode it injects
    story: str
    traffic: tuple[tuple[str, str, float], ...]  # (method, path, share of the rate)
    fault_on: Fault
    fault_off: Fault = _nothing
    prepare: Fault = _nothing
    window: tuple[float, float] = (0.25, 0.75)  # fault start and end, as shares of duration
    verdict_on: tuple[str, ...] = ("success",)
    rate_factor: float = 1.0  # some failure modes need more traffic to show


async def _slow_catalog(shop: Shop, gateway: str) -> None:
    await shop.toxic(gateway, "catalog", "latency", latency=3000, jitter=100)


async def _blackhole_recs(shop: Shop, gateway: str) -> None:
    await shop.toxic(gateway, "recommendations", "timeout", timeout=0)
    await shop.toxic(gateway, "recommendations", "timeout", stream="upstream", timeout=0)


async def _overload_catalog(shop: Shop, gateway: str) -> None:
    await shop.deploy("catalog", fail_rate=0.5)


async def _heal_catalog(shop: Shop, gateway: str) -> None:
    await shop.deploy("catalog")


async def _warm_hot_keys(shop: Shop, gateway: str) -> None:
    # A catalog miss costs 150 ms (a busy database), so concurrent misses pile up; every
    # hot product is cached at the same instant, so they all expire together.
    await shop.toxic(gateway, "catalog", "latency", latency=150, jitter=0)
    await shop.warm(gateway, [f"p{i}" for i in range(HERD_KEYS)])


async def _flaky_payments(shop: Shop, gateway: str) -> None:
    await shop.toxic(gateway, "payments", "reset_peer", toxicity=0.3, timeout=0)


async def _bad_deploy_recs(shop: Shop, gateway: str) -> None:
    await shop.deploy("recommendations", error_status=500)


async def _rollback_recs(shop: Shop, gateway: str) -> None:
    await shop.deploy("recommendations")


async def _clear_toxics(shop: Shop, gateway: str) -> None:
    async with httpx.AsyncClient() as client:
        (await client.post(f"{shop.control}/reset")).raise_for_status()


BROWSE = ("GET", "/browse", 1.0)

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "slow-downstream",
            "Slow downstream: the catalog takes 3 s",
            "slow downstream",
            "A latency toxic (3 s) on the catalog. Naive waits for it (httpx's 5 s default) "
            "and the shopper's 2 s budget runs out; seawall times the attempt out from the "
            "deadline, trips the breaker on slow calls and serves the cached product stale.",
            (BROWSE,),
            _slow_catalog,
            _clear_toxics,
            verdict_on=("success", "p99"),
        ),
        Scenario(
            "partition",
            "Network partition: recommendations blackholed",
            "network partition",
            "A timeout toxic (0 = blackhole) both ways on recommendations: connections open "
            "but nothing comes back. Naive hangs on an optional part; seawall gives it 300 ms "
            "and answers the page without it (X-Degraded).",
            (BROWSE,),
            _blackhole_recs,
            _clear_toxics,
            verdict_on=("success", "p99"),
        ),
        Scenario(
            "retry-storm",
            "Cascading failure: a struggling catalog, retried harder",
            "cascading failure",
            "Half the catalog's answers are 503. Naive retries every failure 3x at a fixed "
            "100 ms, multiplying load on the sick service; seawall's retry budget and breaker "
            "cap the amplification and serve stale products.",
            (BROWSE,),
            _overload_catalog,
            _heal_catalog,
            verdict_on=("amplification", "success"),
        ),
        Scenario(
            "thundering-herd",
            "Thundering herd: every cache entry expires at once",
            "thundering herd",
            f"{HERD_KEYS} hot products cached at the same instant, under 4x the traffic, with "
            "a 150 ms catalog. Naive's fixed TTL expires them together and every concurrent "
            "miss goes to the catalog; seawall jitters the TTL and coalesces concurrent "
            "misses into one load per key.",
            (("GET", f"/browse?hot={HERD_KEYS}", 1.0),),
            _nothing,
            prepare=_warm_hot_keys,
            window=(0.25, 0.3),
            verdict_on=("catalog_calls", "p99"),
            rate_factor=4.0,
        ),
        Scenario(
            "flaky-network",
            "Flaky network under POSTs: 30 % of charges reset after the work",
            "network partition (partial)",
            "reset_peer on payments' responses for 30 % of connections: the charge is made, "
            "the answer is lost. Naive retries the POST without a key and charges twice; "
            "seawall sends one Idempotency-Key per order and the server replays.",
            (("POST", "/checkout", 0.5), BROWSE),
            _flaky_payments,
            _clear_toxics,
            verdict_on=("duplicates", "success"),
        ),
        Scenario(
            "bad-deploy",
            "Bad deploy: recommendations answers 500",
            "operator error",
            "A deploy makes recommendations answer 500 to everything. Naive retries and then "
            "fails the whole page; seawall's breaker opens and the page ships without "
            "recommendations.",
            (BROWSE,),
            _bad_deploy_recs,
            _rollback_recs,
            verdict_on=("success", "p99"),
        ),
    )
}


async def _run_gateway(
    shop: Shop,
    scenario: Scenario,
    gateway: str,
    *,
    rate: float,
    duration: float,
    progress: Callable[[float], None],
) -> Run:
    await shop.reset()
    await scenario.prepare(shop, gateway)
    headers = {"X-Request-Timeout-Ms": str(BUDGET_MS)}
    generators = [
        LoadGenerator(
            f"{shop.url(gateway)}{path}",
            rate=rate * share * scenario.rate_factor,
            duration=duration,
            method=method,
            headers=headers,
            timeout=BUDGET_MS / 1000,
            max_in_flight=1024,
            ok=lambda r: r.status_code == 200,
        )
        for method, path, share in scenario.traffic
    ]
    start, end = (duration * f for f in scenario.window)

    async def faults() -> None:
        await asyncio.sleep(start)
        await scenario.fault_on(shop, gateway)
        await asyncio.sleep(end - start)
        await scenario.fault_off(shop, gateway)

    async def ticker() -> None:
        began = time.monotonic()
        while True:
            progress(min(time.monotonic() - began, duration))
            await asyncio.sleep(0.2)

    tick = asyncio.create_task(ticker())
    try:
        outcome = await asyncio.gather(*(g.arun() for g in generators), faults())
    finally:
        tick.cancel()
    results: list[LoadResult] = [r for r in outcome if isinstance(r, LoadResult)]
    return measure(
        gateway,
        results,
        await shop.stats(),
        duration=duration,
        window=(start, end),
        budget=BUDGET_MS / 1000,
    )


async def run_scenario(
    shop: Shop,
    scenario: Scenario,
    *,
    rate: float,
    duration: float,
    progress: Callable[[str, float], None] = lambda gateway, t: None,
) -> dict[str, Run]:
    """Run ``scenario`` against both gateways, naive first."""
    runs: dict[str, Run] = {}
    for gateway in GATEWAYS:
        runs[gateway] = await _run_gateway(
            shop,
            scenario,
            gateway,
            rate=rate,
            duration=duration,
            progress=lambda t, g=gateway: progress(g, t),  # type: ignore[misc]
        )
    await shop.reset()
    return runs


class ShopError(RuntimeError):
    """The shop's processes could not be started."""


@contextmanager
def running_shop(seed: int) -> Iterator[Shop]:
    workdir = Path(tempfile.mkdtemp(prefix="seawall-gameday-"))
    shop = Shop(workdir, seed=seed)
    try:
        try:
            shop.start()
        except RuntimeError:
            # Another program may take a port between our pick and the bind: pick again.
            shop = Shop(workdir, seed=seed)
            try:
                shop.start()
            except RuntimeError as exc:
                raise ShopError(str(exc)) from exc
        yield shop
    finally:
        shop.stop()
        shutil.rmtree(workdir, ignore_errors=True)
