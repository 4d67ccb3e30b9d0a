"""Fixtures for the HTTP idempotency tests: charge-server processes and a redis-server.

Everything listens on 127.0.0.1 with an OS-chosen port, lives in the test's tmp dir and is
stopped by the test (or session) that started it.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator

import pytest

from tests.integration.conftest import need
from tests.integration.http.servers import ServerProcess


@pytest.fixture
def server_process() -> Iterator[Callable[..., ServerProcess]]:
    """Make charge-server processes; any still running at the end are killed."""
    made: list[ServerProcess] = []

    def make(*args: str) -> ServerProcess:
        process = ServerProcess(*args)
        made.append(process)
        return process

    yield make
    for process in made:
        process.kill()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server on 127.0.0.1 for the session; yields its base URL."""
    try:
        import redis
    except ImportError:
        need(False, "redis-py is not installed (pip install 'seawall[redis]')")
    binary = shutil.which("redis-server")
    need(binary is not None, "redis-server is not installed")
    assert binary is not None
    workdir = tmp_path_factory.mktemp("redis")
    port = _free_port()
    proc = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(workdir),
         "--save", "", "--appendonly", "no", "--loglevel", "warning"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    proc.kill()
                    proc.wait()
                    need(False, "redis-server did not start")
                time.sleep(0.02)
        yield url
    finally:
        client.close()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def redis_prefix() -> str:
    """A key prefix of its own for each test, so tests sharing the server never meet."""
    return f"test:{uuid.uuid4().hex}:"
