"""seawall.wsgi.protect in-process: every step through the WSGI callable itself."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import seawall
from seawall import ConfigError, LoadShedder
from seawall._degraded import mark_degraded
from seawall.http import Health
from seawall.stores import MemoryStore, SQLiteStore
from seawall.testing import FakeClock, capture_events
from seawall.wsgi import protect

Environ = dict[str, Any]


def call(app: Any, path: str = "/", method: str = "GET", body: bytes = b"", **headers: str):
    environ: Environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SCRIPT_NAME": "",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    for name, value in headers.items():
        environ["HTTP_" + name.upper()] = value
    seen: dict[str, Any] = {}

    def start_response(status: str, hdrs: list[tuple[str, str]], exc_info: Any = None) -> Any:
        seen["status"], seen["headers"] = int(status.split()[0]), dict(hdrs)
        return lambda data: None

    out = b"".join(app(environ, start_response))
    return seen["status"], seen["headers"], out


def handler(environ: Environ, start_response: Any) -> Iterable[bytes]:
    body = json.dumps({"remaining": seawall.remaining()}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def test_the_handler_sees_the_budget_the_header_sent_capped_at_maximum() -> None:
    clock = FakeClock()
    app = protect(handler, maximum=2.0, clock=clock)
    status, _, body = call(app, X_REQUEST_TIMEOUT_MS="750")
    assert status == 200
    assert json.loads(body)["remaining"] == pytest.approx(0.75)
    _, _, body = call(app, X_REQUEST_TIMEOUT_MS="90000")
    assert json.loads(body)["remaining"] == pytest.approx(2.0)
    assert seawall.remaining() is None  # the scope closed with the request


def test_a_handler_that_overruns_its_deadline_is_answered_504() -> None:
    clock = FakeClock()

    def slow(environ: Environ, start_response: Any) -> Iterable[bytes]:
        clock.advance(0.5)
        start_response("200 OK", [])
        return [b"too late"]

    status, headers, body = call(protect(slow, clock=clock), X_REQUEST_TIMEOUT_MS="100")
    assert status == 504
    assert headers["content-type"] == "application/problem+json"
    assert b"too late" not in body


def test_a_spent_budget_is_answered_504_without_running_the_handler() -> None:
    ran = []
    app = protect(lambda e, s: ran.append(1) or [b""], clock=FakeClock())
    assert call(app, X_REQUEST_TIMEOUT_MS="0")[0] == 504
    assert ran == []


def test_low_priority_is_shed_while_high_is_admitted() -> None:
    shedder = LoadShedder("wsgi", limit=10, max_queue=0)
    for _ in range(7):  # hold most of the limit, as requests in flight would
        shedder.admit("critical").__enter__()
    app = protect(handler, shedder=shedder, clock=FakeClock())
    status, headers, _ = call(app, X_REQUEST_PRIORITY="low")
    assert status == 503
    assert "retry-after" in headers
    assert call(app, X_REQUEST_PRIORITY="high")[0] == 200


def test_probes_answer_first_and_readiness_fails_when_draining() -> None:
    health = Health(started=True)
    app = protect(handler, health=health)
    assert call(app, "/livez")[0] == 200
    assert call(app, "/readyz")[0] == 200
    health.start_draining()
    status, _, body = call(app, "/readyz")
    assert status == 503
    assert body == b"not ready\n"
    assert call(app, "/livez", X_REQUEST_TIMEOUT_MS="nonsense")[0] == 200


def test_readiness_runs_registered_checks() -> None:
    health = Health(started=True)
    health.add_check("db", lambda: False)
    assert call(protect(handler, health=health), "/readyz")[0] == 503


def test_degraded_parts_are_named_in_x_degraded() -> None:
    def partial(environ: Environ, start_response: Any) -> Iterable[bytes]:
        mark_degraded(["recommendations"])
        start_response("200 OK", [])
        return [b"page"]

    assert call(protect(partial), "/")[1]["X-Degraded"] == "recommendations"


def test_a_keyed_post_runs_once_and_is_replayed(tmp_path: Any) -> None:
    runs = []

    def create(environ: Environ, start_response: Any) -> Iterable[bytes]:
        runs.append(environ["wsgi.input"].read())
        start_response("201 Created", [("Content-Type", "text/plain")])
        return [b"order %d" % len(runs)]

    store = SQLiteStore(tmp_path / "keys.db")
    app = protect(create, idempotency=store)
    first = call(app, "/orders", "POST", b"{}", IDEMPOTENCY_KEY="k1", AUTHORIZATION="Bearer a")
    again = call(app, "/orders", "POST", b"{}", IDEMPOTENCY_KEY="k1", AUTHORIZATION="Bearer a")
    assert first[0] == again[0] == 201
    assert first[2] == again[2] == b"order 1"
    assert again[1]["idempotent-replayed"] == "true"
    assert runs == [b"{}"]
    other = call(app, "/orders", "POST", b"{}", IDEMPOTENCY_KEY="k1", AUTHORIZATION="Bearer b")
    assert other[2] == b"order 2"  # another principal: never another's replay
    assert (
        call(app, "/orders", "POST", b"[]", IDEMPOTENCY_KEY="k1", AUTHORIZATION="Bearer a")[0]
        == 422
    )
    store.close()


def test_a_failed_response_is_not_kept_so_the_retry_runs_again() -> None:
    runs = []

    def flaky(environ: Environ, start_response: Any) -> Iterable[bytes]:
        runs.append(1)
        start_response("503 Service Unavailable" if len(runs) == 1 else "200 OK", [])
        return [b""]

    app = protect(flaky, idempotency=MemoryStore())
    assert call(app, "/", "POST", IDEMPOTENCY_KEY="k")[0] == 503
    assert call(app, "/", "POST", IDEMPOTENCY_KEY="k")[0] == 200


def test_a_required_key_that_is_missing_is_a_400() -> None:
    app = protect(handler, require_idempotency=("/pay",))
    assert call(app, "/pay", "POST")[0] == 400


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"maximum": "5"}, "maximum"),
        ({"maximum": 0}, "maximum"),
        ({"ttl": float("nan")}, "ttl"),
        ({"shedder": 3}, "shedder"),
        ({"default_priority": "urgent"}, "default_priority"),
        ({"routes": {"/a": "urgent"}}, "routes"),
        ({"idempotency": "sqlite"}, "idempotency"),
        ({"idempotency": object()}, "idempotency"),
        ({"session_cookies": "sid"}, "session_cookies"),
        ({"principal": "user"}, "principal"),
        ({"idempotency": False, "principal": lambda e: "u"}, "principal"),
        ({"health": object()}, "health"),
    ],
)
def test_bad_arguments_are_refused_at_construction(kwargs: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        protect(handler, **kwargs)


def test_an_asgi_app_is_refused_with_the_edge_to_use() -> None:
    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        pass

    with pytest.raises(ConfigError, match=r"seawall\.http\.protect"):
        protect(asgi)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="WSGI"):
        protect(42)  # type: ignore[arg-type]


_header = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=255), max_size=40)


@given(
    budget=_header,
    grpc=_header,
    priority=_header,
    key=_header,
    length=st.one_of(_header, st.integers(-5, 1 << 22).map(str)),
)
def test_malformed_headers_never_reach_a_500(
    budget: str, grpc: str, priority: str, key: str, length: str
) -> None:
    app = protect(handler, clock=FakeClock())
    environ_headers = {
        "X_REQUEST_TIMEOUT_MS": budget,
        "GRPC_TIMEOUT": grpc,
        "X_REQUEST_PRIORITY": priority,
        "IDEMPOTENCY_KEY": key,
    }
    status, _, _ = call(app, "/x", "POST", **environ_headers)
    assert status in (200, 400, 409, 413, 422, 503, 504)
    environ_len = {"CONTENT_LENGTH": length}
    status, _, _ = _call_with(app, environ_len, IDEMPOTENCY_KEY="k")
    assert status in (200, 400, 413)


def _call_with(app: Any, extra: Environ, **headers: str) -> tuple[int, Any, bytes]:
    environ: Environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/",
        "wsgi.input": io.BytesIO(b""),
        **extra,
    }
    for name, value in headers.items():
        environ["HTTP_" + name] = value
    seen: dict[str, Any] = {}

    def start_response(status: str, hdrs: Any, exc_info: Any = None) -> Any:
        seen["status"] = int(status.split()[0])

    out = b"".join(app(environ, start_response))
    return seen["status"], None, out


def test_an_overrun_is_counted_and_reported_by_the_edges_timeout_core() -> None:
    clock = FakeClock()

    def slow(environ: Environ, start_response: Any) -> Iterable[bytes]:
        clock.advance(0.5)
        start_response("200 OK", [])
        return [b"too late"]

    app = protect(slow, clock=clock)
    with capture_events() as events:
        assert call(app, X_REQUEST_TIMEOUT_MS="100")[0] == 504
    assert app.timeout.timeouts == 1
    [timed_out] = [e for e in events if isinstance(e, seawall.TimedOut)]
    assert (timed_out.policy, timed_out.name, timed_out.at) == ("wsgi", "request", 0.5)
