"""The edge's per-request steps written for speed: the shedder's permits and X-Degraded.

Both run on every request, so they are written out by hand; these tests pin that the
short forms keep the rules: a permit is counted and bounded under threads, and a
degraded mark reaches the request's own header from tasks it starts, and no other's.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import seawall
import seawall.http
from seawall._degraded import Collector, _names, mark_degraded

Scope = dict[str, Any]


async def _call(app: Any, path: str = "/") -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "raw_path": path.encode()}
    await app({**scope, "query_string": b"", "headers": []}, receive, send)
    return sent


def _degraded(sent: list[dict[str, Any]]) -> list[bytes]:
    return [value for name, value in sent[0]["headers"] if name == b"x-degraded"]


def test_permits_taken_and_given_back_from_threads_stay_counted_and_bounded() -> None:
    shedder = seawall.LoadShedder("permits", limit=4)
    rank = 2  # normal: 80 % of 4 = 3 in flight at most
    inside = 0
    most = 0
    taken = [0] * 8
    guard = threading.Lock()

    def worker(index: int) -> None:
        nonlocal inside, most
        for _ in range(300):
            if shedder.enter_now(rank):
                with guard:
                    inside += 1
                    most = max(most, inside)
                taken[index] += 1
                with guard:
                    inside -= 1
                shedder.leave_now()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stats = shedder.statistics()
    assert stats.inflight == 0
    assert stats.admitted["normal"] == sum(taken) > 0
    assert most <= 3


def test_a_permit_given_back_starts_a_queued_call() -> None:
    shedder = seawall.LoadShedder("handoff", limit=1, max_queue=1)
    assert shedder.enter_now(0)
    admission = shedder.admit("critical")
    assert not admission.try_enter()  # the hard maximum is 1: even critical queues

    async def main() -> None:
        waiting = asyncio.ensure_future(admission.wait())
        await asyncio.sleep(0)
        assert shedder.statistics().queued == 1
        shedder.leave_now()
        await asyncio.wait_for(waiting, 1.0)

    asyncio.run(main())
    stats = shedder.statistics()
    assert (stats.inflight, stats.queued, stats.admitted_after_queue["critical"]) == (1, 0, 1)
    admission.leave()
    assert shedder.statistics().inflight == 0


def test_without_an_open_collector_marking_records_nothing() -> None:
    assert _names.get() is None
    mark_degraded(["recs"])
    assert _names.get() is None


def test_a_collector_makes_its_set_at_the_first_mark() -> None:
    collector = Collector()
    collector.names = None
    token = _names.set(collector)
    try:
        assert collector.names is None
        mark_degraded(["b"])
        assert collector.names == {"b"}
        mark_degraded([])
        mark_degraded(["a", "b"])
    finally:
        _names.reset(token)
    assert collector.names == {"a", "b"}


def test_marks_from_tasks_the_handler_starts_reach_its_header_only() -> None:
    async def handler(scope: Scope, receive: Any, send: Any) -> None:
        part = scope["path"].strip("/")

        async def fetch() -> None:
            await asyncio.sleep(0)
            mark_degraded([part])

        await asyncio.gather(fetch(), fetch())
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def plain(scope: Scope, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    app = seawall.http.protect(handler, idempotency=False)
    whole = seawall.http.protect(plain, idempotency=False)

    async def main() -> list[list[dict[str, Any]]]:
        return list(await asyncio.gather(_call(app, "/recs"), _call(app, "/ads"), _call(whole)))

    recs, ads, nothing = asyncio.run(main())
    assert _degraded(recs) == [b"recs"]
    assert _degraded(ads) == [b"ads"]
    assert _degraded(nothing) == []
