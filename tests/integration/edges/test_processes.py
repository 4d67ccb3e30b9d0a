"""Deadlines across three real processes, and graceful shutdown under load."""

from __future__ import annotations

import signal
import threading
import time

import httpx

from tests.integration.edges.conftest import Service


def chain(services: list[Service]) -> Service:
    c = Service("tests.integration.edges.chain_app:app", {"SEAWALL_TEST_NAME": "C"})
    services.append(c)
    b = Service(
        "tests.integration.edges.chain_app:app",
        {"SEAWALL_TEST_NAME": "B", "SEAWALL_TEST_NEXT": c.url},
    )
    services.append(b)
    a = Service(
        "tests.integration.edges.chain_app:app",
        {"SEAWALL_TEST_NAME": "A", "SEAWALL_TEST_NEXT": b.url},
    )
    services.append(a)
    return a


def test_each_hop_receives_a_smaller_budget(services: list[Service]) -> None:
    a = chain(services)
    answer = httpx.get(f"{a.url}/", headers={"X-Request-Timeout-Ms": "3000"}, timeout=10).json()
    budget_a = answer["budget"]
    budget_b = answer["down"]["budget"]
    budget_c = answer["down"]["down"]["budget"]
    print(f"\nbudgets: A {budget_a:.3f}s, B {budget_b:.3f}s, C {budget_c:.3f}s")
    assert budget_c < budget_b < budget_a <= 3.0
    assert budget_b <= 0.9 * budget_a + 0.01  # the 10 % reserve at each hop
    assert budget_c <= 0.9 * budget_b + 0.01


def test_when_c_hangs_a_answers_within_its_own_budget(services: list[Service]) -> None:
    a = chain(services)
    started = time.monotonic()
    response = httpx.get(f"{a.url}/?hang=1", headers={"X-Request-Timeout-Ms": "1000"}, timeout=10)
    elapsed = time.monotonic() - started
    print(f"\nC hangs: A answered {response.status_code} after {elapsed:.3f}s: {response.text}")
    assert elapsed < 1.0 + 0.25, f"A answered after {elapsed:.3f}s"
    assert response.status_code in (502, 504)
    assert response.json()["name"] == "A"  # A itself answered, gracefully


def test_graceful_shutdown_under_continuous_load(services: list[Service]) -> None:
    service = Service(
        "tests.integration.edges.slow_app:app",
        None,
        "--drain-delay",
        "1.0",
        "--shutdown-timeout",
        "5",
    )
    services.append(service)
    outcomes: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def load() -> None:
        # One connection per request: each is either refused (never accepted) or must succeed.
        with httpx.Client(limits=httpx.Limits(max_keepalive_connections=0), timeout=10) as client:
            while not stop.is_set():
                try:
                    response = client.get(f"{service.url}/work")
                    result = (
                        "ok" if response.status_code == 200 else f"status {response.status_code}"
                    )
                except httpx.ConnectError:
                    result = "refused"
                except httpx.TransportError as exc:
                    result = f"failed {type(exc).__name__}"
                with lock:
                    outcomes.append(result)
                if result == "refused":
                    time.sleep(0.01)

    workers = [threading.Thread(target=load) for _ in range(8)]
    for w in workers:
        w.start()
    time.sleep(0.5)
    signalled = time.monotonic()
    service.proc.send_signal(signal.SIGTERM)
    not_ready_after = None
    while time.monotonic() - signalled < 2.0:
        try:
            if httpx.get(f"{service.url}/readyz", timeout=1).status_code == 503:
                not_ready_after = time.monotonic() - signalled
                break
        except httpx.TransportError:
            break
    code = service.proc.wait(timeout=15)
    exited_after = time.monotonic() - signalled
    time.sleep(0.2)
    stop.set()
    for w in workers:
        w.join()
    ok = outcomes.count("ok")
    failed = [o for o in outcomes if o not in ("ok", "refused")]
    print(
        f"\nshutdown: readyz 503 after {not_ready_after}s, exit {code} after {exited_after:.2f}s,"
        f" {ok} ok, {outcomes.count('refused')} refused, {len(failed)} failed"
    )
    assert not_ready_after is not None
    assert not_ready_after < 0.1
    assert code == 0
    assert exited_after < 1.0 + 5.0 + 1.0
    assert ok > 20
    assert failed == [], failed[:5]
