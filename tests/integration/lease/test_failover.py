"""kill -9 of the leader process: a new leader within lease_duration + retry_period."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from seawall.lease import EtcdLease, LeaderElector, LeaseBackend, RedisLease

from ._support import LEASE, RENEW, RETRY

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).with_name("leader_process.py")
ROUNDS = 3


def _leader_process(kind: str, url: str, key: str) -> tuple[subprocess.Popen[str], int]:
    args = [sys.executable, str(SCRIPT), kind, url, key, str(LEASE), str(RENEW), str(RETRY)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 20)
    line = proc.stdout.readline() if ready else ""
    if not line.startswith("leader "):
        proc.kill()
        proc.wait(10)
        raise AssertionError(f"the leader process did not lead: {line!r}")
    return proc, int(line.split()[1])


def _reap(proc: subprocess.Popen[str]) -> None:
    proc.kill()
    proc.wait(10)
    if proc.stdout is not None:
        proc.stdout.close()


@pytest.mark.parametrize("kind", ["etcd", "redis"])
def test_kill_9_of_the_leader_elects_a_new_one_within_lease_plus_retry(
    kind: str, request: pytest.FixtureRequest
) -> None:
    url = (
        request.getfixturevalue("etcd").url
        if kind == "etcd"
        else request.getfixturevalue("redis_url")
    )
    failovers = []
    last_token = 0
    key = "seawall/kill" if kind == "etcd" else "seawall:kill"
    for round_ in range(ROUNDS):
        proc, token = _leader_process(kind, url, key)
        backend: LeaseBackend = (
            EtcdLease(url, key) if kind == "etcd" else RedisLease(url, key, socket_timeout=0.5)
        )
        try:
            with LeaderElector(
                backend,
                identity="survivor",
                lease_duration=LEASE,
                renew_deadline=RENEW,
                retry_period=RETRY,
            ) as survivor:
                time.sleep(2 * RETRY + (round_ * 0.07))  # vary the phase of the kill
                assert not survivor.is_leader()
                os.kill(proc.pid, signal.SIGKILL)
                killed = time.monotonic()
                term = survivor.wait_for_leadership(LEASE + RETRY + 2)
                elected = time.monotonic()
                assert term is not None, "no new leader after kill -9"
                assert term.token > token
                assert term.token > last_token
                last_token = term.token
        finally:
            _reap(proc)
            backend.close()
        failovers.append(elected - killed)
    assert max(failovers) <= LEASE + RETRY + 0.25, failovers  # + request latency
    within = sum(f <= LEASE + RETRY for f in failovers)
    print(
        f"\n{kind}: kill -9 -> new leader in "
        + ", ".join(f"{f:.3f}s" for f in failovers)
        + f" (lease_duration + retry_period = {LEASE + RETRY}s; {within}/{ROUNDS} within it)"
    )
