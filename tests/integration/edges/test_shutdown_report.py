"""``seawall serve`` says how its shutdown went: exit code and log lines, on a real process."""

from __future__ import annotations

import signal
import threading
import time

import httpx

from tests.integration.edges.conftest import Service

APP = "tests.integration.edges.drain_app:app"


class Calls:
    """Requests run from threads; each leaves its outcome in ``results``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.results: dict[str, str] = {}
        self.threads: list[threading.Thread] = []
        self.ticks = threading.Event()

    def get(self, name: str, path: str) -> None:
        def run() -> None:
            try:
                response = httpx.get(self.url + path, timeout=10)
                self.results[name] = f"{response.status_code} {response.text}"
            except httpx.TransportError as exc:
                self.results[name] = type(exc).__name__

        self.start(run)

    def events(self) -> None:
        def run() -> None:
            ticks = 0
            try:
                with httpx.stream("GET", self.url + "/events", timeout=10) as response:
                    for line in response.iter_lines():
                        if line.startswith("data:"):
                            ticks += 1
                            self.ticks.set()
                self.results["events"] = f"ended after {ticks} ticks"
            except httpx.TransportError as exc:
                self.results["events"] = type(exc).__name__

        self.start(run)

    def start(self, run: object) -> None:
        thread = threading.Thread(target=run)  # type: ignore[arg-type]
        thread.start()
        self.threads.append(thread)

    def join(self) -> None:
        for thread in self.threads:
            thread.join(timeout=15)


def stop(service: Service) -> tuple[int, str, float]:
    signalled = time.monotonic()
    service.proc.send_signal(signal.SIGTERM)
    code = service.proc.wait(timeout=15)
    took = time.monotonic() - signalled
    return code, service.stop(), took


def test_a_shutdown_that_cuts_requests_exits_1_and_says_how_many_once(
    services: list[Service],
) -> None:
    service = Service(
        APP, None, "--log-level", "info", "--drain-delay", "0.2", "--shutdown-timeout", "0.8"
    )
    services.append(service)
    calls = Calls(service.url)
    calls.events()
    for name in ("a", "b", "c"):
        calls.get(name, "/sleep?s=10")
    calls.get("started", "/started?s=10")
    assert calls.ticks.wait(5)
    time.sleep(0.5)  # the slow requests reach the handler

    code, log, took = stop(service)
    calls.join()
    print(f"\nexit {code} after {took:.2f}s; {calls.results}\n{log}")

    assert code == 1
    cut_lines = [line for line in log.splitlines() if "shutdown cut" in line]
    assert len(cut_lines) == 1, log
    assert "shutdown cut 4 in-flight request(s)" in cut_lines[0]
    assert "Traceback" not in log
    assert "CancelledError" not in log
    for line in ("readiness failing", "no longer accepting", "closed 1 event stream(s)", "exited"):
        assert line in log, line
    # Not yet answering: 503, so the caller retries elsewhere; mid-answer: aborted.
    for name in ("a", "b", "c"):
        assert calls.results[name].startswith("503 "), calls.results
    assert calls.results["started"] in ("RemoteProtocolError", "ReadError"), calls.results
    assert calls.results["events"].startswith("ended after"), calls.results
    assert took < 0.2 + 0.8 + 2.0


def test_a_shutdown_where_every_request_finished_exits_0(services: list[Service]) -> None:
    service = Service(
        APP, None, "--log-level", "info", "--drain-delay", "0.2", "--shutdown-timeout", "5"
    )
    services.append(service)
    calls = Calls(service.url)
    calls.events()
    for name in ("a", "b"):
        calls.get(name, "/sleep?s=1.5")
    assert calls.ticks.wait(5)
    time.sleep(0.3)

    code, log, took = stop(service)
    calls.join()
    print(f"\nexit {code} after {took:.2f}s; {calls.results}\n{log}")

    assert code == 0
    assert calls.results["a"] == calls.results["b"] == "200 done"
    # The event stream was closed at the drain, cleanly, and is not counted as cut.
    assert calls.results["events"].startswith("ended after"), calls.results
    assert "drained: all 2 in-flight request(s) finished" in log
    assert "shutdown cut" not in log
    assert "ERROR" not in log
    for line in ("readiness failing", "no longer accepting", "closed 1 event stream(s)", "exited"):
        assert line in log, line


def test_a_second_signal_exits_at_once_and_counts_what_it_cut(services: list[Service]) -> None:
    service = Service(
        APP, None, "--log-level", "info", "--drain-delay", "0.1", "--shutdown-timeout", "20"
    )
    services.append(service)
    calls = Calls(service.url)
    calls.get("slow", "/sleep?s=20")
    time.sleep(0.5)
    signalled = time.monotonic()
    service.proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)  # past the drain delay: now waiting for the slow request
    service.proc.send_signal(signal.SIGTERM)
    code = service.proc.wait(timeout=10)
    took = time.monotonic() - signalled
    log = service.stop()
    calls.join()
    print(f"\nexit {code} after {took:.2f}s; {calls.results}\n{log}")
    assert code == 1
    assert took < 5
    assert "second SIGTERM: exiting now" in log
    assert "shutdown cut 1 in-flight request(s)" in log
    assert "Traceback" not in log


def test_cut_sync_handlers_do_not_hold_the_exit_past_the_timeout(services: list[Service]) -> None:
    service = Service(
        "tests.integration.edges.blocking_app:app",
        None,
        *("--log-level", "info", "--drain-delay", "0.1", "--shutdown-timeout", "0.5"),
    )
    services.append(service)
    calls = Calls(service.url)
    calls.get("blocking", "/blocking")
    time.sleep(0.5)  # the handler's worker thread is sleeping
    code, log, took = stop(service)
    calls.join()
    print(f"\nexit {code} after {took:.2f}s; {calls.results}\n{log}")
    assert code == 1
    assert took < 0.1 + 0.5 + 3.0  # not the 10 s the thread still sleeps
    assert calls.results["blocking"].startswith("503 ")
    assert "shutdown cut 1 in-flight request(s)" in log
    assert "not waiting for 1 worker thread(s) of cut requests" in log
