"""seawall.wsgi.protect serves /metrics and /seawall ahead of every step and times requests."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import seawall
from seawall import _durations
from seawall.wsgi import protect


def hello(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("201 Created", [("Content-Type", "text/plain")])
    return [b"hi"]


def _get(app: Any, path: str, **extra: str) -> tuple[str, bytes]:
    seen: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        seen.append(status)
        return lambda data: None

    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "wsgi.input": None, **extra}
    body = b"".join(app(environ, start_response))
    return seen[0], body


def test_metrics_and_snapshot_are_served_and_never_shed() -> None:
    shedder = seawall.LoadShedder("wsgi-observe", limit=1, max_queue=0)
    app = protect(hello, shedder=shedder, service="shop")
    with shedder.admit("critical"):
        status, _ = _get(app, "/", HTTP_X_REQUEST_PRIORITY="low")
        assert status.startswith("503")
        status, body = _get(app, "/metrics", HTTP_X_REQUEST_PRIORITY="low")
        assert status == "200 OK"
        assert b"# TYPE seawall_load_shedder_requests_total counter" in body
        status, body = _get(app, "/seawall", HTTP_X_REQUEST_TIMEOUT_MS="0")
        assert status == "200 OK"
        assert json.loads(body)["service"] == "shop"


def test_requests_are_timed_by_method_and_status_under_route_other() -> None:
    _durations.SERVER.clear()
    app = protect(hello, snapshot_path=None)
    assert _get(app, "/a/1")[0] == "201 Created"
    assert _get(app, "/seawall")[0].startswith("201")  # turned off: the app answers
    rows = {(r["route"], r["method"], r["status"]): r["count"] for r in _durations.SERVER.rows()}
    assert rows == {("other", "GET", 201): 2}
