"""N real processes share one quota on a real redis-server; killing Redis fails open/closed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.ratelimit.quota_worker import BURST, RATE

ROOT = Path(__file__).resolve().parents[3]


class Worker:
    def __init__(self, url: str, prefix: str, offer: float, on_error: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.ratelimit.quota_worker",
             url, prefix, str(offer), on_error],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env,
        )  # fmt: skip

    def ready(self) -> None:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.strip() == "ready", line + self.proc.stderr.read()  # type: ignore[union-attr]

    def go(self, start: float, duration: float) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{start} {duration}\n")
        self.proc.stdin.flush()

    def result(self, timeout: float) -> tuple[dict[str, int], str]:
        out, err = self.proc.communicate(timeout=timeout)
        assert self.proc.returncode == 0, err
        return json.loads(out.strip().splitlines()[-1]), err

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


def run(workers: list[Worker], duration: float) -> float:
    for worker in workers:
        worker.ready()
    start = time.time() + 0.2
    for worker in workers:
        worker.go(start, duration)
    return start


def test_four_processes_share_one_quota_exactly(redis_server: str, redis_prefix: str) -> None:
    # Each process offers 300/s, more than the whole 200/s quota, for the 10 s.
    duration = 10.0
    workers = [Worker(redis_server, redis_prefix, 300.0, "open") for _ in range(4)]
    try:
        run(workers, duration)
        results = [worker.result(timeout=duration + 30)[0] for worker in workers]
    finally:
        for worker in workers:
            worker.kill()
    quota = RATE * duration + BURST  # 2,050
    admitted = sum(r["admitted"] for r in results)
    print(f"\nshared admitted {admitted} of quota {quota:.0f}; per process {results}")
    assert all(r["store_errors"] == 0 for r in results)
    assert abs(admitted - quota) <= 0.02 * quota, (admitted, results)
    for r in results:
        # Alone, each process's own quota would have admitted more than its share.
        assert r["alone_admitted"] > r["admitted"], r
    assert sum(r["alone_admitted"] for r in results) > 2 * quota


@pytest.mark.parametrize("on_error", ["open", "closed"])
def test_killing_redis_mid_run_fails_as_configured_with_one_log_line(
    redis_control: Any, redis_prefix: str, on_error: str
) -> None:
    offer, duration = 100.0, 3.0
    worker = Worker(redis_control.url, redis_prefix, offer, on_error)
    try:
        start = run([worker], duration)
        time.sleep(max(0.0, start + 1.0 - time.time()))
        redis_control.kill()
        try:
            time.sleep(1.0)
        finally:
            redis_control.start()
        counts, log = worker.result(timeout=duration + 30)
    finally:
        worker.kill()
    lines = [line for line in log.splitlines() if line.startswith("seawall.ratelimit")]
    print(f"\n{on_error}: {counts}\n" + "\n".join(lines))
    assert counts["store_errors"] >= 0.5 * offer  # about one second of requests failed
    assert len(lines) == 2, lines  # one line when the outage starts, one when it ends
    assert "store RedisRateLimitStore" in lines[0]
    assert f"failing {on_error}" in lines[0]
    assert "answers again" in lines[1]
    assert f"{counts['store_errors']} requests were decided without it" in lines[1]
    # The quota (200/s) is above the offer: every refusal is one the outage caused.
    if on_error == "open":
        assert counts["limited"] == 0
        assert counts["admitted"] == counts["offered"]
    else:
        assert counts["limited"] == counts["store_errors"]
