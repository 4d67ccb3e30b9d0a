"""Fixtures for the HTTP idempotency tests: charge-server processes.

The session's redis-server (``redis_server``, ``redis_prefix``) is in the parent conftest.

Everything listens on 127.0.0.1 with an OS-chosen port, lives in the test's tmp dir and is
stopped by the test (or session) that started it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

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
