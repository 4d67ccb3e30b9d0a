"""SQLiteStore across process lifetimes: a real uvicorn process, restarted and killed.

The server is ``python -m tests.integration.http.charges`` on 127.0.0.1, with its
idempotency records and its charges in two SQLite files under the test's tmp dir.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.integration.http.charges import effects
from tests.integration.http.servers import ServerProcess

BODY = b'{"charge": "c1"}'


def post(url: str, key: str, body: bytes = BODY, timeout: float = 5.0) -> httpx.Response:
    return httpx.post(
        f"{url}/charges", content=body, headers={"Idempotency-Key": key}, timeout=timeout
    )


def test_a_response_is_replayed_after_a_server_restart(
    tmp_path: Path, server_process: Callable[..., ServerProcess]
) -> None:
    files = ("--charges", str(tmp_path / "charges.db"), "--store", str(tmp_path / "idem.db"))
    first = server_process(*files)
    url = first.start()
    original = post(url, "k1")
    assert original.status_code == 201
    first.stop()

    second = server_process(*files)
    url = second.start()
    replay = post(url, "k1")
    assert replay.status_code == 201
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == original.json()
    assert post(url, "k1", b'{"charge": "c2"}').status_code == 422
    second.stop()
    assert effects(tmp_path / "charges.db") == {"c1": 1}


def test_a_claim_left_by_a_killed_server_expires_after_the_lock_ttl(
    tmp_path: Path, server_process: Callable[..., ServerProcess]
) -> None:
    lock_ttl = 3.0
    files = ("--charges", str(tmp_path / "charges.db"), "--store", str(tmp_path / "idem.db"))
    options = (*files, "--lock-ttl", str(lock_ttl))
    doomed = server_process(*options, "--hang")
    url = doomed.start()
    claimed_at = time.time()
    with pytest.raises(httpx.ReadTimeout):
        post(url, "k2", timeout=0.3)  # claimed, then the handler hangs
    assert post(url, "k2").status_code == 409
    doomed.kill()  # SIGKILL: the claim is never completed nor released

    survivor = server_process(*options)
    url = survivor.start()
    assert post(url, "k2").status_code == 409  # still locked by the dead process
    while (answer := post(url, "k2")).status_code == 409:
        assert time.time() - claimed_at < lock_ttl + 5
        time.sleep(0.05)
    assert answer.status_code == 201
    assert time.time() - claimed_at >= lock_ttl
    survivor.stop()
    assert effects(tmp_path / "charges.db") == {"c1": 1}
