"""The live dashboard in a real browser: headless Chromium watches a real service's breaker.

A ``protect()``ed app on uvicorn calls a downstream (another uvicorn) through
``seawall.http.AsyncClient``. The downstream turns to 100 % 503, then heals. Chromium,
driven over the DevTools protocol, has the app's ``/seawall/dashboard`` open the whole
time; the test reads the DOM and asserts that the dependency's tile shows the breaker
open (red) within 3 s of the breaker opening, and closed again within 3 s of it closing.
Screenshots of both moments are saved under /tmp for a person to look at.

CI needs Debian's ``chromium`` package; locally the test is skipped without it.
"""

from __future__ import annotations

import gc
import json
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import seawall
from seawall.http import AsyncClient, protect
from tests.integration.conftest import ThreadedUvicorn, need
from tests.integration.metrics._chromium import Browser, chromium

pytestmark = pytest.mark.integration

SHOTS = Path("/tmp")
RED = "rgb(207, 34, 46)"  # the open badge


class Downstream:
    """Answers 200, or 503 to everything while ``failing``."""

    def __init__(self) -> None:
        self.failing = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        status = 503 if self.failing else 200
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


def checkout(downstream: str) -> Any:
    """The service under watch: GET /order charges the downstream through seawall's client."""
    client = AsyncClient(
        name="charges",  # a name of its own: the policy catalog is process-wide
        attempts=2,
        backoff=seawall.Backoff.exponential(initial=0.01, maximum=0.02, jitter=0.0),
        breaker={"min_calls": 5, "window": 3.0, "cooldown": 2.0, "half_open_calls": 2},
        total_timeout=2.0,
    )

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == "/close":
            await client.aclose()
            status = 204
        else:
            try:
                status = (await client.get(f"{downstream}/charge")).status_code
            except seawall.Rejected:
                status = 503
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    return protect(app, service="checkout", metrics_path=None)


class Load(threading.Thread):
    """A steady trickle of orders (about 40/s) until stopped."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.stopped = threading.Event()
        self.sent = 0

    def run(self) -> None:
        with httpx.Client(timeout=3.0) as http:
            while not self.stopped.is_set() and self.sent < 5_000:
                http.get(f"{self.url}/order")
                self.sent += 1
                self.stopped.wait(0.025)

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=10)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """One headless Chromium for the module; each test opens its own page in it."""
    executable = chromium()
    need(executable is not None, "chromium is not installed (apt-get install -y chromium)")
    assert executable is not None
    with Browser(executable, tmp_path_factory.mktemp("chromium")) as running:
        yield running


def wait_for(what: str, check: Callable[[], Any], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {timeout}s")


def test_the_tile_turns_open_and_red_then_closed_as_the_breaker_does(
    browser: Browser, tmp_path: Path
) -> None:
    moves: list[tuple[str, float]] = []

    def hook(event: seawall.Event) -> None:
        if isinstance(event, seawall.BreakerStateChanged) and event.new in ("open", "closed"):
            moves.append((event.new, time.monotonic()))

    downstream = Downstream()
    remove = seawall.add_hook(hook)
    try:
        with ThreadedUvicorn(downstream) as down_url:
            port = down_url.rsplit(":", 1)[1]
            tile = f"charges|127.0.0.1:{port}"
            with ThreadedUvicorn(checkout(down_url)) as app_url:
                load = Load(app_url)
                load.start()
                try:
                    _watch(browser, app_url, tile, downstream, moves, tmp_path)
                finally:
                    browser.close_page()  # its stream ends before the server stops
                    load.stop()
                    httpx.post(f"{app_url}/close", timeout=5)
    finally:
        remove()
        # The app's policies are in the process-wide catalog until its reference cycles
        # are collected: collect them now, so later tests' scrapes do not see them.
        gc.collect()


def _state(browser: Browser, tile: str) -> Any:
    selector = json.dumps(f'[data-tile="{tile}"]')
    return browser.evaluate(
        f"(() => {{ const t = document.querySelector({selector});"
        " if (!t) return null;"
        " const b = t.querySelector('.badge');"
        " return {state: t.dataset.state, badge: b.textContent,"
        " colour: getComputedStyle(b).backgroundColor, rate: Number(t.dataset.rate),"
        " samples: Number(document.body.dataset.samples)}; })()"
    )


def _watch(
    browser: Browser,
    app_url: str,
    tile: str,
    downstream: Downstream,
    moves: list[tuple[str, float]],
    tmp_path: Path,
) -> None:
    time.sleep(2.0)  # two seconds of samples before the page opens
    browser.open(f"{app_url}/seawall/dashboard")
    first = wait_for("the tile appears", lambda: _state(browser, tile), 15)
    assert first["state"] == "closed"
    assert first["samples"] >= 2  # the first event already held the seconds before
    wait_for("traffic shows", lambda: (_state(browser, tile) or {}).get("rate", 0) > 0, 10)

    downstream.failing = True
    wait_for("the breaker opens", lambda: any(m == "open" for m, _ in moves), 15)
    opened = next(t for m, t in moves if m == "open")
    seen = wait_for("the tile shows open", lambda: _state(browser, tile)["state"] == "open", 6)
    assert seen
    lag = time.monotonic() - opened
    assert lag <= 3.0, f"the tile turned open {lag:.2f}s after the breaker"
    print(f"tile open {lag:.2f}s after the breaker opened")
    shown = _state(browser, tile)
    assert shown["colour"] == RED
    assert shown["badge"].startswith("open")
    time.sleep(1.0)  # a second more of failures on the sparkline
    browser.screenshot(tmp_path / "open.png")
    shutil.copy(tmp_path / "open.png", SHOTS / "seawall-dashboard-open.png")

    downstream.failing = False
    wait_for("the breaker closes", lambda: any(m == "closed" for m, _ in moves), 20)
    closed = next(t for m, t in moves if m == "closed")
    wait_for("the tile shows closed", lambda: _state(browser, tile)["state"] == "closed", 6)
    lag = time.monotonic() - closed
    assert lag <= 3.0, f"the tile turned closed {lag:.2f}s after the breaker"
    print(f"tile closed {lag:.2f}s after the breaker closed")
    assert _state(browser, tile)["colour"] != RED
    browser.screenshot(tmp_path / "closed.png")
    shutil.copy(tmp_path / "closed.png", SHOTS / "seawall-dashboard-closed.png")


def test_a_still_page_draws_an_embedded_view_without_a_server(
    browser: Browser, tmp_path: Path
) -> None:
    """What the game day report embeds: the same tiles from a view, with no stream."""
    from seawall.metrics._dashboard import page
    from seawall.metrics._sampler import Sampler, view
    from seawall.metrics._tiles import readings
    from tests.unit.metrics.snapshots import breaker, snapshot

    sampler = Sampler()
    for second, state in enumerate(["closed", "closed", "open"]):
        seen = readings(
            snapshot(breaker("catalog", "10.0.0.9:80", state=state, failure=5 * second))
        )
        sampler.record(float(second), {"a": seen})
    still = tmp_path / "still.html"
    still.write_text(page(None, view(sampler)))
    browser.open(still.as_uri())
    shown = wait_for("the tile appears", lambda: _state(browser, "catalog|10.0.0.9:80"), 15)
    assert shown["state"] == "open"
    assert shown["colour"] == RED
    assert shown["samples"] == 3
