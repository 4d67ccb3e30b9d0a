"""The judge's HTTP answers for Argo Rollouts (web metric) and Flagger (webhooks)."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from seawall.canary import JudgeServer, SourceError
from seawall.canary._sources import Samples

GOOD = [0.0] * 10
BAD = [0.05] * 10
LATENCY = [0.01] * 10


def _fetch(baseline: str, canary: str, options: dict[str, str]) -> Samples:
    if "down" in canary:
        raise SourceError("http://prometheus: connection refused")
    seen.append((baseline, canary, options))
    errors = BAD if "bad" in canary else GOOD
    return {
        "error_ratio": (list(GOOD), list(errors)),
        "latency_p50_seconds": (list(LATENCY), list(LATENCY)),
        "latency_p99_seconds": (list(LATENCY), list(LATENCY)),
    }


seen: list[tuple[str, str, dict[str, str]]] = []


@pytest.fixture
def server() -> Iterator[str]:
    seen.clear()
    srv = JudgeServer(("127.0.0.1", 0), _fetch, 0.98)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_port}"
    srv.shutdown()
    srv.server_close()
    thread.join(timeout=5)


def _call(url: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="GET" if data is None else "POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def test_argo_web_metric_reads_promote(server: str) -> None:
    status, body = _call(f"{server}/judge?baseline=job%3D%22web%22&canary=job%3D%22web-good%22")
    assert status == 200
    assert body["promote"] is True
    assert body["verdict"] == "promote"
    status, body = _call(
        f"{server}/judge?baseline=job%3D%22web%22&canary=job%3D%22web-bad%22&window=2m"
    )
    assert status == 200
    assert body["promote"] is False
    assert seen[-1][2] == {"window": "2m"}


def test_flagger_webhook_fails_the_check_on_a_bad_canary(server: str) -> None:
    payload = {"name": "podinfo", "namespace": "test", "phase": "Progressing", "metadata": {}}
    status, body = _call(f"{server}/flagger", payload)
    assert status == 200
    assert seen[-1][:2] == (
        'namespace="test",service="podinfo-primary"',
        'namespace="test",service="podinfo-canary"',
    )
    payload["metadata"] = {"canary": 'job="bad"', "baseline": 'job="good"'}
    status, body = _call(f"{server}/flagger", payload)
    assert status == 422
    assert body["verdict"] == "rollback"


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        ("/judge?baseline=web&canary=job%3D%22x%22", None, 400, "label matchers"),
        ("/judge?baseline=job%3D%22x%22}&canary=job%3D%22x%22", None, 400, "label matchers"),
        ("/judge?baseline=job%3D%22x%22&canary=job%3D%22x%22&bogus=1", None, 400, "bogus"),
        ("/judge?baseline=job%3D%22x%22&canary=job%3D%22down%22", None, 502, "refused"),
        ("/flagger", {"namespace": "test"}, 400, "'name'"),
        ("/flagger", {"name": "a", "namespace": "b", "metadata": []}, 400, "metadata"),
        ("/elsewhere", None, 404, "not found"),
    ],
)
def test_bad_requests_get_clear_errors(
    server: str, path: str, body: dict[str, Any] | None, status: int, message: str
) -> None:
    code, answer = _call(f"{server}{path}", body)
    assert code == status
    assert message in answer["error"]
