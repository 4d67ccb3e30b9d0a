"""``seawall proxy`` as a real process: it prints where it listens, proxies, obeys its
control API, and stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.integration.chaos.conftest import connect, echo, median_ms, round_trips

Start = Callable[..., Any]


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "seawall.cli", "proxy", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _stop(process: subprocess.Popen[str]) -> tuple[int, str]:
    process.send_signal(signal.SIGTERM)
    try:
        _, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return process.returncode, err


def test_proxy_command_serves_until_sigterm(upstream: Start, tmp_path: Path) -> None:
    up = upstream(echo).address
    config = tmp_path / "proxies.json"
    config.write_text(json.dumps([{"name": "echo", "listen": "127.0.0.1:0", "upstream": up}]))
    process = _start("--config", str(config), "--port", "0", "--toxic", "echo:latency:latency=60")
    try:
        assert process.stdout is not None
        api_line = process.stdout.readline()
        proxy_line = process.stdout.readline()
        api_url = re.search(r"control API on (\S+)", api_line)
        listen = re.search(r"proxy echo listening on (\S+) ->", proxy_line)
        assert api_url, api_line
        assert listen, proxy_line
        with connect(listen.group(1)) as sock:
            assert median_ms(round_trips(sock, 3)) >= 59
        with httpx.Client(base_url=api_url.group(1)) as client:
            assert client.delete("/proxies/echo/toxics/latency_downstream").status_code == 204
        with connect(listen.group(1)) as sock:
            assert median_ms(round_trips(sock, 3)) < 30
    finally:
        code, err = _stop(process)
    assert code == 0, err


def test_proxy_command_exits_2_when_it_cannot_listen(upstream: Start) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "seawall.cli",
                "proxy",
                "--port",
                "0",
                "--proxy",
                "x",
                f"127.0.0.1:{port}",
                "127.0.0.1:1",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 2
    assert f"listen: cannot listen on 127.0.0.1:{port}" in result.stderr
