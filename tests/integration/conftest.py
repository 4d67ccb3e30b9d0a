"""Real servers for integration tests, started and stopped inside the test run."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest


def need(condition: bool, reason: str) -> None:
    """Skip locally, but fail loudly under CI=true: CI must exercise every real part."""
    if not condition:
        if os.environ.get("CI") == "true":
            pytest.fail(f"required for integration tests under CI: {reason}")
        pytest.skip(reason)


class ThreadedUvicorn:
    """uvicorn on 127.0.0.1 with an OS-chosen port, in a thread (as httpx's tests do)."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def serve() -> Iterator[Any]:
    """``with serve(app) as base_url:`` runs ``app`` on a real uvicorn for the block."""
    try:
        import uvicorn  # noqa: F401
    except ImportError:
        need(False, "uvicorn is not installed (pip install 'seawall[http]')")
    return ThreadedUvicorn


@pytest.fixture(scope="session")
def hanging_server() -> Iterator[Any]:
    """A loopback socket that accepts every connection, reads it, and never answers."""
    from tests.integration.sockets import FaultServer

    with FaultServer("hang") as server:
        yield server


@pytest.fixture(scope="session")
def dropping_server() -> Iterator[Any]:
    """A loopback socket that reads every request and closes without an answer."""
    from tests.integration.sockets import FaultServer

    with FaultServer("drop") as server:
        yield server


@pytest.fixture(scope="session")
def prometheus_server() -> Iterator[Any]:
    """One real Prometheus per test session; tests point it at their targets with ``scrape()``."""
    import shutil

    need(
        shutil.which("prometheus") is not None,
        "prometheus is not installed (apt-get install prometheus)",
    )
    from tests.integration._prometheus import prometheus

    with prometheus() as server:
        yield server


@pytest.fixture(scope="session")
def redis_control(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The session's redis-server as a :class:`~tests.integration._redis.RedisServer`.

    A test may ``kill()`` it to fail Redis for real; it must ``start()`` it again (same
    URL) before it ends.
    """
    try:
        import redis  # noqa: F401
    except ImportError:
        need(False, "redis-py is not installed (pip install 'seawall[redis]')")
    from tests.integration._redis import RedisServer

    try:
        server = RedisServer(tmp_path_factory.mktemp("redis"))
    except FileNotFoundError:
        need(False, "redis-server is not installed")
    try:
        server.start()
    except RuntimeError:
        need(False, "redis-server did not start")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_server(redis_control: Any) -> str:
    """A real redis-server on 127.0.0.1 for the session; its base URL."""
    url: str = redis_control.url
    return url


@pytest.fixture
def redis_prefix() -> str:
    """A key prefix of its own for each test, so tests sharing the server never meet."""
    return f"test:{uuid.uuid4().hex}:"
