"""One real uvicorn server, and one resetting proxy in front of it, per test session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.clients.servers import Recorder, ResetProxy
from tests.integration.conftest import ThreadedUvicorn, need


@pytest.fixture(scope="session")
def recorder() -> Iterator[tuple[str, Recorder, ResetProxy]]:
    """(the proxy's base URL, the app, the proxy): every request goes through both."""
    try:
        import uvicorn  # noqa: F401
    except ImportError:
        need(False, "uvicorn is not installed (pip install 'seawall[http]')")
    app = Recorder()
    with ThreadedUvicorn(app) as url:
        port = int(url.rsplit(":", 1)[1])
        with ResetProxy(port) as proxy:
            yield proxy.url, app, proxy
