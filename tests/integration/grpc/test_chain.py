"""gRPC across three processes, A -> B -> C, each a real grpcio server behind seawall."""

from __future__ import annotations

import json
import socket
import time
import uuid
from typing import Any

import grpc
import pytest

import seawall
import seawall.grpc
from tests.integration.grpc.conftest import Chain

pytestmark = pytest.mark.integration

METHOD = "/seawall.test.Node/Call"


def ask(target: str, ops: dict[str, str], *, budget: float, **options: Any) -> dict[str, Any]:
    """Call node at ``target`` through a seawall channel, inside a ``budget`` deadline."""
    options.setdefault("timeout", 5.0)
    options.setdefault("total_timeout", 5.0)
    with seawall.grpc.channel(target, **options) as channel:
        call = channel.unary_unary(METHOD)
        request = json.dumps({"ops": ops, "tag": str(uuid.uuid4())}).encode()
        with seawall.deadline(budget):
            return dict(json.loads(call(request)))


def test_the_budget_shrinks_at_every_hop(chain: Chain) -> None:
    answer = ask(chain.a.target, {"A": "relay", "B": "relay", "C": "echo"}, budget=2.0)
    a, b, c = answer, answer["down"], answer["down"]["down"]
    assert [a["node"], b["node"], c["node"]] == ["A", "B", "C"]
    # each hop keeps a reserve (10 %, at least 50 ms) of what it was given; grpcio's core
    # rounds the grpc-timeout it sends up to a coarser unit (under 1 %), hence the slack
    # 2 s minus the test client's own reserve, rounded up on the wire by under 1 %
    assert 0.0 < a["time_remaining"] <= 1.8 * 1.01
    assert c["time_remaining"] < b["time_remaining"] < a["time_remaining"]
    assert b["time_remaining"] <= a["time_remaining"] * 0.9 + 0.02
    assert c["time_remaining"] <= b["time_remaining"] * 0.9 + 0.02
    # the server's deadline scope is what the handler's own downstream calls read
    assert c["remaining"] is not None
    assert c["remaining"] <= c["time_remaining"] + 0.01


def test_a_hanging_c_leaves_a_answering_within_its_own_deadline(chain: Chain) -> None:
    tag_ops = {"A": "relay", "B": "relay", "C": "hang"}
    started = time.monotonic()
    # 2 s, not less: each hop's reserve (10 %) must cover a loaded machine's scheduling
    answer = ask(chain.a.target, tag_ops, budget=2.0)
    elapsed = time.monotonic() - started
    assert elapsed < 2.0
    # B's deadline ran out first (its own: not retried); A still had time to answer
    assert answer["node"] == "A"
    assert answer["down"]["down_error"] == "DEADLINE_EXCEEDED"


def test_unavailable_is_retried_with_one_idempotency_key(chain: Chain) -> None:
    answer = ask(chain.a.target, {"A": "relay", "B": "relay", "C": "flaky:2"}, budget=3.0)
    seen = answer["down"]["down"]["seen"]
    assert [s["attempt"] for s in seen] == ["1", "2", "3"]
    keys = {s["key"] for s in seen}
    assert len(keys) == 1
    assert None not in keys


def test_pushback_is_honoured(chain: Chain) -> None:
    answer = ask(chain.a.target, {"A": "relay", "B": "pushback:300:1"}, budget=3.0)
    seen = answer["down"]["seen"]
    assert len(seen) == 2
    # A's client backs off 50 ms by itself; the server asked for 300 ms
    assert seen[1]["at"] - seen[0]["at"] >= 0.3


def test_negative_pushback_stops_the_retries(chain: Chain) -> None:
    with pytest.raises(grpc.RpcError) as failure:
        ask(chain.c.target, {"C": "pushback:-1:5"}, budget=3.0)
    assert failure.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "not retried after attempt 1" in "\n".join(getattr(failure.value, "__notes__", []))


def test_priority_travels_down_the_chain(chain: Chain) -> None:
    with seawall.priority("high"):
        answer = ask(chain.a.target, {"A": "relay", "B": "relay", "C": "echo"}, budget=2.0)
    assert answer["priority"] == answer["down"]["priority"] == "high"
    assert answer["down"]["down"]["priority"] == "high"


def test_the_interceptors_on_a_channel_of_ones_own(chain: Chain) -> None:
    raw = grpc.insecure_channel(chain.c.target, options=seawall.grpc.NO_RETRIES)
    interceptors = seawall.grpc.client_interceptors(chain.c.target, timeout=5.0, total_timeout=5.0)
    with grpc.intercept_channel(raw, *interceptors) as channel:
        call = channel.unary_unary(METHOD)
        request = json.dumps({"ops": {"C": "flaky:1"}, "tag": str(uuid.uuid4())}).encode()
        with seawall.deadline(3.0):
            seen = json.loads(call(request))["seen"]
            # .future() goes through the same interceptor
            echo = json.loads(call.future(json.dumps({"ops": {}}).encode()).result())
    assert [s["attempt"] for s in seen] == ["1", "2"]
    assert len({s["key"] for s in seen}) == 1
    assert echo["time_remaining"] <= 3.0 * 0.9


def test_an_unreachable_target_is_retried_then_fails_within_the_deadline() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as failure:
        ask(f"127.0.0.1:{port}", {}, budget=1.0)
    assert failure.value.code() is grpc.StatusCode.UNAVAILABLE
    assert time.monotonic() - started < 1.0
    assert "not retried after attempt" in "\n".join(getattr(failure.value, "__notes__", []))


def test_with_call_returns_the_call_too(chain: Chain) -> None:
    with seawall.grpc.channel(chain.c.target) as channel:
        request = json.dumps({"ops": {}}).encode()
        response, call = channel.unary_unary(METHOD).with_call(request)
    assert json.loads(response)["node"] == "C"
    assert call.code() is grpc.StatusCode.OK


def test_only_the_layer_above_a_dead_service_retries(chain: Chain) -> None:
    """Three layers over real servers: this test's seawall channel (Retry(3) and the
    default budget) -> node A (sync) -> node B, which is down. A calls B through its own
    seawall channel: once A's budget has judged B to be failing broadly it refuses A's
    retries, and A's UNAVAILABLE carries ``grpc-retry-pushback-ms: -1``. The caller
    above A then tries A exactly once."""
    ops = {"A": "guard", "B": "down"}
    with grpc.insecure_channel(chain.a.target, options=seawall.grpc.NO_RETRIES) as raw:
        call = raw.unary_unary(METHOD)
        pushback = None
        for _ in range(20):  # A's window may hold earlier tests' calls that succeeded
            request = json.dumps({"ops": ops, "tag": str(uuid.uuid4())}).encode()
            with pytest.raises(grpc.RpcError) as failure:
                call(request, timeout=5.0)
            assert failure.value.code() is grpc.StatusCode.UNAVAILABLE
            metadata = dict(failure.value.trailing_metadata() or ())
            pushback = metadata.get(seawall.grpc.PUSHBACK_KEY)
            if pushback is not None:
                break
        assert pushback == "-1"

        tag = str(uuid.uuid4())
        request = json.dumps({"ops": ops, "tag": tag}).encode()
        guarded = seawall.grpc.channel(chain.a.target, timeout=5.0, total_timeout=5.0)
        with guarded as channel, seawall.deadline(3.0), pytest.raises(grpc.RpcError) as failure:
            channel.unary_unary(METHOD)(request)
        assert failure.value.code() is grpc.StatusCode.UNAVAILABLE
        assert "not retried after attempt 1" in "\n".join(failure.value.__notes__)
        seen = json.loads(call(json.dumps({"ops": {"A": "seen"}, "tag": tag}).encode()))
        # the caller tried A exactly once (the raw "seen" call itself has no attempt)
        assert [s["attempt"] for s in seen["seen"]] == ["1", None]
