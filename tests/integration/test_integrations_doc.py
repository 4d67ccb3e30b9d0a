"""docs/integrations.md runs as written: every example, against real servers on 127.0.0.1."""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import need

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "integrations.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```python\n(.*?)```", DOC, re.DOTALL)
NAMED = {b.splitlines()[0].removeprefix("# "): b for b in BLOCKS if b.startswith("# ")}
COMMANDS = re.findall(r"^gunicorn .*$", DOC, re.MULTILINE)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_every_stack_has_its_example() -> None:
    assert set(NAMED) == {
        "app.py",
        "wsgi.py",
        "server.py",
        "client.py",
        "aio_server.py",
        "aio_client.py",
    }
    assert len(BLOCKS) == len(NAMED) + 2  # and the requests and aiohttp clients
    assert len(COMMANDS) == 2
    for name, block in NAMED.items():  # ten lines, give or take the asyncio scaffolding
        assert len([line for line in block.splitlines() if line.strip()]) <= 14, name


def _gunicorn(tmp_path: Path, filename: str, command: str) -> Iterator[str]:
    try:
        import gunicorn  # noqa: F401
    except ImportError:
        need(False, "gunicorn is not installed (pip install 'seawall[wsgi]')")
    (tmp_path / filename).write_text(NAMED[filename])
    port = _free_port()
    argv = shlex.split(command.replace("127.0.0.1:8000", f"127.0.0.1:{port}"))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SEAWALL_DRAIN_SECONDS": "0"}
    process = subprocess.Popen(
        [sys.executable, "-m", *argv],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                _, err = process.communicate(timeout=10)
                raise RuntimeError(f"gunicorn did not start: {err.decode()[-2000:]}")
            time.sleep(0.05)
        yield url
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate(timeout=10)


@pytest.mark.parametrize(
    ("filename", "which"), [("app.py", 0), ("wsgi.py", 1)], ids=["flask", "django"]
)
def test_the_wsgi_examples_serve_under_gunicorn(tmp_path: Path, filename: str, which: int) -> None:
    for url in _gunicorn(tmp_path, filename, COMMANDS[which]):
        answer = httpx.get(f"{url}/quote", headers={"X-Request-Timeout-Ms": "1500"}, timeout=5)
        assert answer.status_code == 200, answer.text
        assert 0 < answer.json()["remaining_s"] <= 1.5


@pytest.mark.parametrize(
    ("server", "client"),
    [("server.py", "client.py"), ("aio_server.py", "aio_client.py")],
    ids=["sync", "aio"],
)
def test_the_grpc_examples_talk_to_each_other(tmp_path: Path, server: str, client: str) -> None:
    try:
        import grpc
    except ImportError:
        need(False, "grpcio is not installed (pip install 'seawall[grpc]')")
    port = str(_free_port())
    default = "50052" if server.startswith("aio") else "50051"
    (tmp_path / server).write_text(NAMED[server].replace(default, port))
    (tmp_path / client).write_text(NAMED[client].replace(default, port))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, server], cwd=tmp_path, env=env)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as probe:
            grpc.channel_ready_future(probe).result(timeout=15)
        done = subprocess.run(
            [sys.executable, client],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines()[0] == "b'hello world'"
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(15)
    assert code == 0
