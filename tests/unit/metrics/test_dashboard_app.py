"""The dashboard's ASGI app: the page, the event stream with its history, the stream cap."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from seawall import ConfigError
from seawall.http import Health
from seawall.metrics import Dashboard
from seawall.testing import FakeClock
from tests.unit.metrics.snapshots import breaker, snapshot


class Client:
    """One ASGI request driven by hand: what was sent, and a way to hang up."""

    def __init__(self, app: Dashboard, path: str, method: str = "GET") -> None:
        self.sent: list[dict[str, Any]] = []
        self._hangup = asyncio.Event()
        self.more = asyncio.Event()  # set on every message sent
        scope = {"type": "http", "method": method, "path": path, "headers": []}
        self.task = asyncio.ensure_future(app(scope, self._receive, self._send))

    async def _receive(self) -> dict[str, Any]:
        await self._hangup.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)
        self.more.set()

    def hang_up(self) -> None:
        self._hangup.set()

    @property
    def status(self) -> int:
        return int(self.sent[0]["status"])

    @property
    def headers(self) -> dict[bytes, bytes]:
        return dict(self.sent[0]["headers"])

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent[1:])

    def events(self) -> list[dict[str, Any]]:
        chunks = self.body.decode().split("\n\n")
        return [json.loads(c.removeprefix("data: ")) for c in chunks if c.startswith("data: ")]


class Counting:
    """A source whose breaker saw ten more successes every time it is asked."""

    def __init__(self) -> None:
        self.calls = 0
        self.state = "closed"

    def __call__(self) -> dict[str, Any]:
        self.calls += 1
        return snapshot(breaker(success=10 * self.calls, state=self.state))


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_the_page_is_served_with_its_stream_path_and_no_outside_resources() -> None:
    async def main() -> None:
        dashboard = Dashboard(Counting(), path="/ops/dash", clock=FakeClock())
        client = Client(dashboard, "/ops/dash")
        await client.task
        assert client.status == 200
        assert client.headers[b"content-type"] == b"text/html; charset=utf-8"
        page = client.body.decode()
        assert '"stream": "/ops/dash/stream"' in page
        assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")
        assert "https://" not in page
        await dashboard.aclose()

    asyncio.run(main())


def test_the_first_event_carries_the_history_then_one_event_per_sample() -> None:
    async def main() -> None:
        source = Counting()
        dashboard = Dashboard(source, clock=FakeClock())
        for _ in range(30):  # thirty seconds sampled before the page opens
            await dashboard.sample()
        dashboard.wake()  # sampling on; FakeClock's autojump paces it
        client = Client(dashboard, "/seawall/dashboard/stream")
        await settle()
        assert client.status == 200
        assert client.headers[b"content-type"] == b"text/event-stream"
        first = client.events()[0]
        assert first["tiles"][0]["spark"][-29:] == [10] * 29  # the baseline second adds 0
        assert first["tiles"][0]["spark"][:90] == [None] * 90
        while len(client.events()) < 3:
            client.more.clear()
            await client.more.wait()
        assert b"retry: 1000" in client.body
        client.hang_up()
        await client.task  # a disconnect ends the stream
        assert dashboard.streams == 0
        await dashboard.aclose()

    asyncio.run(main())


def test_streams_beyond_the_cap_get_503_with_retry_after() -> None:
    async def main() -> None:
        dashboard = Dashboard(Counting(), max_streams=2, clock=FakeClock())
        await dashboard.sample()
        open_ = [Client(dashboard, "/seawall/dashboard/stream") for _ in range(2)]
        await settle()
        extra = Client(dashboard, "/seawall/dashboard/stream")
        await extra.task
        assert extra.status == 503
        assert extra.headers[b"retry-after"] == b"5"
        open_[0].hang_up()
        await open_[0].task
        again = Client(dashboard, "/seawall/dashboard/stream")
        await settle()
        assert again.status == 200
        for client in (open_[1], again):
            client.hang_up()
            await client.task
        await dashboard.aclose()

    asyncio.run(main())


def test_a_draining_process_ends_its_streams() -> None:
    async def main() -> None:
        health = Health(started=True)
        dashboard = Dashboard(Counting(), health=health, clock=FakeClock())
        dashboard.wake()
        client = Client(dashboard, "/seawall/dashboard/stream")
        await settle()
        health.start_draining()
        await asyncio.wait_for(client.task, 5)
        assert client.sent[-1] == {"type": "http.response.body", "body": b""}
        await dashboard.aclose()

    asyncio.run(main())


def test_a_failing_or_slow_source_is_reported_per_instance() -> None:
    async def slow() -> dict[str, Any]:
        await asyncio.sleep(10)
        return {}

    def broken() -> dict[str, Any]:
        raise ConnectionRefusedError("refused")

    async def main() -> None:
        dashboard = Dashboard(
            {"ok": Counting(), "down": broken, "slow": slow, "odd": lambda: [1]},  # type: ignore[dict-item]
            interval=0.05,
            clock=FakeClock(),
        )
        await dashboard.sample()
        current = dashboard.view()
        assert current["instances"]["ok"] is None
        assert current["instances"]["down"] == "ConnectionRefusedError: refused"
        assert current["instances"]["slow"] == "no snapshot within 0.05s"
        assert current["instances"]["odd"] == "not a snapshot: list"
        assert [t["id"] for t in current["tiles"]] == ["payments|"]

    asyncio.run(main())


def test_other_paths_and_methods_are_refused() -> None:
    async def main() -> None:
        dashboard = Dashboard(Counting(), clock=FakeClock())
        post = Client(dashboard, "/seawall/dashboard", method="POST")
        other = Client(dashboard, "/elsewhere")
        await asyncio.gather(post.task, other.task)
        assert (post.status, other.status) == (405, 404)
        await dashboard.aclose()

    asyncio.run(main())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"path": "dash"}, "dashboard path must start with /"),
        ({"path": "/dash/"}, "dashboard path must start with /"),
        ({"interval": 0}, "interval must be a positive number"),
        ({"max_streams": 0}, "max_streams must be a positive integer"),
        ({"size": 5, "window": 10}, "window (10) must not exceed size (5)"),
        ({"sources": {"a": 3}}, "sources['a'] must be a callable"),
        ({"sources": {}}, "sources must map instance names"),
    ],
)
def test_bad_arguments_raise_config_error(kwargs: dict[str, Any], message: str) -> None:
    kwargs.setdefault("sources", Counting())
    with pytest.raises(ConfigError) as caught:
        Dashboard(**kwargs)
    assert message in str(caught.value)
