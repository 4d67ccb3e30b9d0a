"""seawall.wsgi.protect on real gunicorn with 2 workers, under a real Flask and Django app."""

from __future__ import annotations

import json
import signal
import threading
import time
import uuid
from collections.abc import Callable

import pytest

from tests.integration.wsgi.conftest import Gunicorn


def test_the_handler_sees_its_budget_shrink_from_the_header(gunicorn_app: Gunicorn) -> None:
    status, _, body = gunicorn_app.request("GET", "/budget", **{"X-Request-Timeout-Ms": "2000"})
    assert status == 200
    remaining = json.loads(body)["remaining"]
    assert 1.0 < remaining < 2.0
    status, _, body = gunicorn_app.request("GET", "/budget", **{"X-Request-Timeout-Ms": "90000"})
    assert 4.0 < json.loads(body)["remaining"] <= 5.0  # capped at maximum


def test_a_deadline_overrun_gives_504(gunicorn_app: Gunicorn) -> None:
    status, headers, _ = gunicorn_app.request(
        "GET", "/slow?ms=300", **{"X-Request-Timeout-Ms": "100"}
    )
    assert status == 504
    assert headers["content-type"] == "application/problem+json"
    assert gunicorn_app.request("GET", "/slow?ms=10", **{"X-Request-Timeout-Ms": "2000"})[0] == 200


def test_an_overload_sheds_low_priority_first(gunicorn_app: Gunicorn) -> None:
    # Each worker admits 4 in flight, low priority only up to 2: 12 slow low-priority
    # requests overload both, and the 2 high-priority ones sent while they run still fit
    # (even on one worker: 2 low + 2 high).
    results: dict[str, list[int]] = {"low": [], "high": []}
    lock = threading.Lock()

    def send(level: str) -> None:
        status = gunicorn_app.request(
            "GET", "/slow?ms=600", **{"X-Request-Priority": level}, timeout=10
        )[0]
        with lock:
            results[level].append(status)

    low = [threading.Thread(target=send, args=("low",)) for _ in range(12)]
    for thread in low:
        thread.start()
    time.sleep(0.2)
    high = [threading.Thread(target=send, args=("high",)) for _ in range(2)]
    for thread in high:
        thread.start()
    for thread in low + high:
        thread.join(15)
    assert results["high"] == [200] * 2
    assert results["low"].count(503) >= 4
    assert results["low"].count(200) >= 2


def test_idempotent_replay_works_through_sqlite_across_both_workers(
    gunicorn_app: Gunicorn,
) -> None:
    key = uuid.uuid4().hex
    before = gunicorn_app.effects.read_text().count("\n") if gunicorn_app.effects.exists() else 0
    bodies = set()
    for attempt in range(40):
        status, headers, body = gunicorn_app.request(
            "POST", "/orders", b'{"sku": 1}', **{"Idempotency-Key": key, "Authorization": "a"}
        )
        assert status == 201
        assert (headers.get("idempotent-replayed") == "true") == (attempt > 0)
        bodies.add(body)
        served = {
            line.split()[0]
            for line in gunicorn_app.access_log.read_text().splitlines()
            if " POST /orders " in line
        }
        if attempt >= 3 and len(served) >= 2:
            break
    assert len(served) >= 2, "every request went to one worker"
    assert len(bodies) == 1  # every worker replayed the first answer
    assert gunicorn_app.effects.read_text().count("\n") == before + 1


_HIGH = {"X-Request-Priority": "high"}


@pytest.mark.parametrize("kind", ["flask", "django"])
def test_sigterm_under_load_drains_without_failing_a_request(
    kind: str, fresh_gunicorn: Callable[..., Gunicorn]
) -> None:
    drain, grace = 1.0, 4.0
    server = fresh_gunicorn(kind, drain=drain, grace=grace)
    routed = threading.Event()  # cleared when the "load balancer" sees /readyz fail
    routed.set()
    outcomes: list[object] = []

    def client() -> None:
        while routed.is_set():
            try:
                outcomes.append(server.request("GET", "/slow?ms=50", timeout=10, **_HIGH)[0])
            except OSError as exc:
                outcomes.append(exc)

    def long_request() -> None:
        try:  # still running when the workers are told to stop
            outcomes.append(server.request("GET", "/slow?ms=1500", timeout=10, **_HIGH)[0])
        except OSError as exc:
            outcomes.append(exc)

    # Within what the shedder admits even if one worker got them all (4 high at once):
    # this test is about shutdown, not overload.
    clients = [threading.Thread(target=client) for _ in range(3)]
    for thread in clients:
        thread.start()
    time.sleep(0.3)
    server.process.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    while server.request("GET", "/readyz", timeout=2)[0] != 503:
        assert time.monotonic() - signalled < 2
    noticed = time.monotonic() - signalled
    late = threading.Thread(target=long_request)
    late.start()
    routed.clear()
    for thread in [*clients, late]:
        thread.join(10)
    server.process.wait(drain + grace + 2)
    exited = time.monotonic() - signalled
    assert noticed < 0.1
    assert len(outcomes) > 10
    assert outcomes == [200] * len(outcomes)
    assert server.process.returncode == 0
    assert drain <= exited < drain + grace
