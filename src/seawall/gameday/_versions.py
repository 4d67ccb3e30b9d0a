"""Two versions of one small service on loopback, each serving its own ``/metrics``.

The canary step of the game day needs a baseline and a canary that answer real HTTP
requests and count them the way seawall's server edge does: the OpenTelemetry
``http_server_request_duration_seconds`` histogram, labelled by method, route and status
code. A version answers ``GET /`` with 200, or with 500 for ``error_ratio`` of the
requests (drawn from a seeded random source, so a run repeats).
"""

from __future__ import annotations

import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["BUCKETS", "Histogram", "Version"]

# The OpenTelemetry HTTP semantic conventions' advised boundaries.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
NAME = "http_server_request_duration_seconds"


class Histogram:
    """Request durations by status, as plain counters, formatted when scraped."""

    def __init__(self, route: str = "/") -> None:
        self.route = route
        self._lock = threading.Lock()
        self._series: dict[int, list[float]] = {}  # status -> [bucket counts..., count, sum]

    def observe(self, status: int, seconds: float) -> None:
        with self._lock:
            row = self._series.setdefault(status, [0.0] * (len(BUCKETS) + 2))
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    row[i] += 1
            row[-2] += 1
            row[-1] += seconds

    def exposition(self) -> str:
        with self._lock:
            series = {status: list(row) for status, row in self._series.items()}
        lines = [
            f"# HELP {NAME} Duration of HTTP server requests.",
            f"# TYPE {NAME} histogram",
        ]
        for status, row in sorted(series.items()):
            labels = (
                f'http_request_method="GET",http_response_status_code="{status}",'
                f'http_route="{self.route}"'
            )
            for i, bound in enumerate(BUCKETS):
                lines.append(f'{NAME}_bucket{{{labels},le="{bound}"}} {row[i]:g}')
            lines.append(f'{NAME}_bucket{{{labels},le="+Inf"}} {row[-2]:g}')
            lines.append(f"{NAME}_count{{{labels}}} {row[-2]:g}")
            lines.append(f"{NAME}_sum{{{labels}}} {row[-1]!r}")
        return "\n".join(lines) + "\n"


class _Handler(BaseHTTPRequestHandler):
    server: Version
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: with Nagle on, the body waits for the
    # client's delayed ACK (40 ms) and a keep-alive client makes 25 requests a second.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        started = time.perf_counter()
        if self.path == "/metrics":
            body = self.server.histogram.exposition().encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        else:
            status = self.server.answer()
            body = b"ok\n" if status == 200 else b"error\n"
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        if self.path != "/metrics":
            self.server.histogram.observe(self._status, time.perf_counter() - started)

    def send_response(self, code: int, message: str | None = None) -> None:
        self._status = code
        super().send_response(code, message)


class Version(ThreadingHTTPServer):
    """One version of the service on ``127.0.0.1``; ``url`` is where it answers."""

    daemon_threads = True

    def __init__(self, name: str, *, error_ratio: float = 0.0, seed: int = 0) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.name = name
        self.error_ratio = error_ratio
        self.histogram = Histogram()
        self._rng = random.Random(seed)
        self._rng_lock = threading.Lock()
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"

    def answer(self) -> int:
        with self._rng_lock:
            failed = self._rng.random() < self.error_ratio
        return 500 if failed else 200

    def __enter__(self) -> Version:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=5)
