"""``seawall dashboard URL...`` sums real instances' tiles and lists the one that is down."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from typing import Any

import httpx
import pytest

import seawall
from seawall.http import protect
from tests.integration.conftest import ThreadedUvicorn

pytestmark = pytest.mark.integration


async def ok(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def first_events(url: str, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    with httpx.stream("GET", url, timeout=timeout) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream"
        for line in response.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line.removeprefix("data: ")))
                if len(events) == count:
                    break
    return events


def test_instances_are_summed_per_tile_and_a_dead_one_is_named() -> None:
    breaker = seawall.CircuitBreaker("inventory", min_calls=100)  # lives in this process
    # No shedder: the policy catalog is process-wide, and this one would outlive the test
    # in other tests' scrapes until the garbage collector finds it.
    app = protect(ok, service="shop", metrics_path=None, dashboard_path=None, shedder=False)
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with ThreadedUvicorn(app) as one, ThreadedUvicorn(app) as two:
        command = [sys.executable, "-m", "seawall.cli", "dashboard", one, f"{two}/seawall", dead]
        with subprocess.Popen(
            [*command, "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        ) as proc:
            try:
                assert proc.stdout is not None
                line = proc.stdout.readline()
                assert line.startswith("seawall dashboard: http://127.0.0.1:"), line
                page_url = line.split()[2]
                base = page_url.removesuffix("/dashboard")
                page = httpx.get(page_url, timeout=5)
                assert page.status_code == 200
                assert "/dashboard/stream" in page.text
                assert httpx.get(base + "/", timeout=5).headers["location"] == "/dashboard"
                # Every instance sampled once (its baseline) before the calls below.
                first_events(base + "/dashboard/stream", 1)
                for _ in range(5):
                    breaker.call(lambda: None)
                events = first_events(base + "/dashboard/stream", 3)
            finally:
                proc.terminate()
                proc.wait(timeout=15)
    latest = events[-1]
    instances = latest["instances"]
    assert instances[f"{one}/seawall"] is None
    assert instances[f"{two}/seawall"] is None
    assert "ConnectError" in instances[f"{dead}/seawall"]
    tile = next(t for t in latest["tiles"] if t["id"] == "inventory|")
    # Both instances are this process: each saw the five calls, so the tile sums ten.
    assert tile["counts"]["success"] == 10
    assert tile["states"] == {f"{one}/seawall": "closed", f"{two}/seawall": "closed"}
    assert proc.returncode in (0, -15)
    del breaker


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ftp://x"], "bad instance URL 'ftp://x'"),
        (["http://h:99999"], "bad instance URL 'http://h:99999'"),
        (["http://h:1", "http://h:1/seawall"], "an instance URL is given twice"),
        (["http://h:1", "--port", "http"], "--port must be a port number"),
        (["http://h:1", "--host", "203.0.113.9", "--port", "0"], "cannot serve on 203.0.113.9:0"),
    ],
)
def test_bad_urls_and_flags_exit_2_with_one_line(args: list[str], message: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "seawall.cli", "dashboard", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith(f"seawall dashboard: {message}"), result.stderr
    assert result.stderr.count("\n") == 1
