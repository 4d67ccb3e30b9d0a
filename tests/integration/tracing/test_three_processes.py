"""One trace across three real processes A -> B -> C, each exporting its own spans."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.edges.conftest import Service

APP = "tests.integration.tracing.chain_app:app"


def _spans(files: list[Path], trace_id: str, count: int) -> list[dict[str, Any]]:
    """The spans of ``trace_id`` in ``files``, once at least ``count`` were exported."""
    deadline = time.monotonic() + 5.0
    while True:
        found = [
            span
            for path in files
            for line in path.read_text().splitlines()
            if (span := json.loads(line))["context"]["trace_id"] == f"0x{trace_id}"
        ]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


@pytest.fixture
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[Path]]]:
    folder = tmp_path_factory.mktemp("spans")
    files = [folder / f"{name}.jsonl" for name in "ABC"]
    for path in files:
        path.touch()
    started: list[Service] = []
    try:
        c = Service(APP, {"SEAWALL_TEST_NAME": "C", "SEAWALL_TEST_SPANS": str(files[2])})
        started.append(c)
        b = Service(
            APP,
            {
                "SEAWALL_TEST_NAME": "B",
                "SEAWALL_TEST_NEXT": c.url,
                "SEAWALL_TEST_ATTEMPTS": "3",
                "SEAWALL_TEST_SPANS": str(files[1]),
            },
        )
        started.append(b)
        a = Service(
            APP,
            {
                "SEAWALL_TEST_NAME": "A",
                "SEAWALL_TEST_NEXT": b.url,
                "SEAWALL_TEST_SPANS": str(files[0]),
            },
        )
        started.append(a)
        yield a.url, files
    finally:
        for service in started:
            service.stop()


def _request(url: str, query: str) -> tuple[str, str, httpx.Response]:
    trace_id, parent = secrets.token_hex(16), secrets.token_hex(8)
    response = httpx.get(
        f"{url}/?{query}", headers={"traceparent": f"00-{trace_id}-{parent}-01"}, timeout=10
    )
    return trace_id, parent, response


def _children(spans: list[dict[str, Any]], parent: str) -> list[dict[str, Any]]:
    found = [s for s in spans if s["parent_id"] == f"0x{parent}"]
    return sorted(found, key=lambda s: s["start_time"])


def _id(span: dict[str, Any]) -> str:
    return str(span["context"]["span_id"]).removeprefix("0x")


def _events(span: dict[str, Any]) -> list[str]:
    return [e["name"] for e in span["events"]]


def test_one_trace_spans_three_processes_with_a_span_per_attempt(
    chain: tuple[str, list[Path]],
) -> None:
    url, files = chain
    trace_id, root, response = _request(url, "fail=2")
    assert response.status_code == 200, response.text
    # A: server, call, client; B: server, call, 3 clients; C: 3 servers.
    spans = _spans(files, trace_id, 11)
    assert len(spans) == 11, [s["name"] for s in spans]
    by_file = {path.stem: 0 for path in files}
    for path in files:
        by_file[path.stem] = sum(trace_id in line for line in path.read_text().splitlines())
    assert by_file == {"A": 3, "B": 5, "C": 3}

    (a_server,) = _children(spans, root)
    assert a_server["kind"] == "SpanKind.SERVER"
    (a_call,) = _children(spans, _id(a_server))
    assert a_call["kind"] == "SpanKind.INTERNAL"
    (a_attempt,) = _children(spans, _id(a_call))
    assert a_attempt["kind"] == "SpanKind.CLIENT"
    assert a_attempt["attributes"]["http.request.resend_count"] == 0
    assert a_attempt["attributes"]["http.response.status_code"] == 200
    assert a_attempt["attributes"]["http.request.method"] == "GET"
    (b_server,) = _children(spans, _id(a_attempt))
    assert b_server["kind"] == "SpanKind.SERVER"
    (b_call,) = _children(spans, _id(b_server))
    attempts = _children(spans, _id(b_call))
    assert [s["kind"] for s in attempts] == ["SpanKind.CLIENT"] * 3
    assert [s["attributes"]["http.request.resend_count"] for s in attempts] == [0, 1, 2]
    assert [s["attributes"]["http.response.status_code"] for s in attempts] == [503, 503, 200]
    # A retried attempt is not an error: the call succeeded in the end.
    assert all(s["status"]["status_code"] == "UNSET" for s in attempts)
    assert _events(b_call) == ["seawall.retry.scheduled"] * 2
    delays = [e["attributes"]["seawall.retry.delay"] for e in b_call["events"]]
    assert delays == [pytest.approx(0.02)] * 2
    # Each of C's server spans is the child of the attempt that reached it.
    c_servers = [child for attempt in attempts for child in _children(spans, _id(attempt))]
    assert [s["kind"] for s in c_servers] == ["SpanKind.SERVER"] * 3
    assert [s["attributes"]["http.response.status_code"] for s in c_servers] == [503, 503, 200]
    first = attempts[0]["attributes"]
    assert first["url.full"].startswith("http://127.0.0.1:")
    assert first["server.address"] == "127.0.0.1"
    assert isinstance(first["server.port"], int)


def test_breaker_decisions_are_span_events_and_only_the_final_failure_is_an_error(
    chain: tuple[str, list[Path]],
) -> None:
    url, files = chain
    _request(url, "fail=2")  # three calls on B's breaker to C: two failures
    trace_id, root, response = _request(url, "fail=99")
    assert response.status_code == 502
    spans = _spans(files, trace_id, 8)
    (a_server,) = _children(spans, root)
    (a_call,) = _children(spans, _id(a_server))
    (a_attempt,) = _children(spans, _id(a_call))
    (b_server,) = _children(spans, _id(a_attempt))
    (b_call,) = _children(spans, _id(b_server))
    # The fourth call's failure opens B's breaker; the retry is then rejected by it.
    assert _events(b_call) == [
        "seawall.circuit_breaker.state_changed",
        "seawall.retry.scheduled",
        "seawall.circuit_breaker.rejected",
        "seawall.retry.refused",
    ]
    changed = b_call["events"][0]["attributes"]
    assert (changed["seawall.circuit_breaker.from"], changed["seawall.circuit_breaker.to"]) == (
        "closed",
        "open",
    )
    (attempt,) = _children(spans, _id(b_call))
    assert attempt["attributes"]["http.request.resend_count"] == 0
    # The call failed on the breaker, not on its attempt: only the call is an error.
    assert attempt["status"]["status_code"] == "UNSET"
    assert b_call["status"]["status_code"] == "ERROR"
    assert b_call["attributes"]["error.type"] == "CircuitOpen"
    assert b_server["attributes"]["http.response.status_code"] == 503
    assert b_server["status"]["status_code"] == "ERROR"
