"""Real parts for the game-day tests: a static HTTP service (``python -m http.server``
in its own process) and seawall's Toxiproxy-compatible proxy server, both on 127.0.0.1
and both stopped by the fixtures."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples" / "experiments"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(url: str, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + 15
    while True:
        try:
            httpx.get(url, timeout=0.5)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline or (proc is not None and proc.poll() is not None):
                raise RuntimeError(f"{url} did not come up") from None
            time.sleep(0.05)


@pytest.fixture
def static_site(tmp_path: Path) -> Iterator[str]:
    """``python -m http.server`` serving a small directory; yields its base URL."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "hello.txt").write_text("hello\n")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=site,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(url + "/", proc)
        yield url
    finally:
        proc.kill()
        proc.wait(timeout=10)


@dataclass
class Proxied:
    control: str  # the control API, e.g. http://127.0.0.1:PORT
    service: str  # the site through the proxy "web"
    server: Any  # seawall.chaos.ProxyServer

    def toxics(self) -> list[dict[str, Any]]:
        return list(self.server.proxies()["web"]["toxics"])


@pytest.fixture
def proxied_site(static_site: str) -> Iterator[Proxied]:
    """The static site behind a proxy named ``web`` on seawall's proxy server."""
    from seawall.chaos import ProxyConfig, ProxyServer

    listen = free_port()
    upstream = static_site.removeprefix("http://")
    config = ProxyConfig(name="web", listen=f"127.0.0.1:{listen}", upstream=upstream)
    with ProxyServer(port=0, proxies=[config]) as server:
        service = f"http://127.0.0.1:{listen}"
        wait_until_up(service + "/")
        yield Proxied(control=server.url, service=service, server=server)
