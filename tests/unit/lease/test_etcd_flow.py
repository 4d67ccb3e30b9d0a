"""The etcd flow, driven call by call with canned gateway replies (httpx's auth-flow style)."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from seawall.lease import EtcdLease, LeaseStoreError, Observation
from seawall.lease._etcd import _error_of, _Session
from seawall.testing import FakeClock

KEY = base64.b64encode(b"elect").decode()


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def kv(create: int, mod: int, lease: int, value: str = "other") -> dict[str, Any]:
    return {
        "key": KEY,
        "create_revision": str(create),
        "mod_revision": str(mod),
        "lease": str(lease),
        "value": b64(value),
    }


def failed_txn(*kvs: dict[str, Any]) -> dict[str, Any]:
    return {"header": {"revision": "20"}, "responses": [{"response_range": {"kvs": list(kvs)}}]}


def run(flow: Any, replies: list[dict[str, Any]]) -> tuple[list[tuple[str, Any]], Any]:
    """Feed ``replies`` to ``flow`` in order; returns the calls it made and its result."""
    calls = []
    try:
        call = next(flow)
        for reply in replies:
            calls.append(call)
            call = flow.send(reply)
        raise AssertionError(f"the flow wanted more: {call}")
    except StopIteration as done:
        return calls, done.value


def test_a_fresh_candidate_grants_a_lease_and_wins_the_key_with_the_revision_as_token() -> None:
    session = _Session("elect", FakeClock().now)
    calls, seen = run(
        session.acquire_or_renew("me", 1.5),
        [{"ID": "42", "TTL": "2"}, {"header": {"revision": "7"}, "succeeded": True}],
    )
    assert [path for path, _ in calls] == ["/v3/lease/grant", "/v3/kv/txn"]
    assert calls[0][1] == {"TTL": 2}  # whole seconds, rounded up: never shorter
    txn = calls[1][1]
    assert txn["compare"] == [
        {"key": KEY, "target": "CREATE", "create_revision": "0", "result": "EQUAL"}
    ]
    assert txn["success"] == [{"request_put": {"key": KEY, "value": b64("me"), "lease": "42"}}]
    assert seen == Observation(True, 7, "me")
    assert (session.lease_id, session.token) == (42, 7)


def test_a_leader_keeps_its_lease_alive_and_rewrites_its_key_while_it_is_still_its_own() -> None:
    session = _Session("elect", FakeClock().now)
    session.lease_id, session.token = 42, 7
    calls, seen = run(
        session.acquire_or_renew("me", 2.0),
        [{"result": {"ID": "42", "TTL": "2"}}, {"header": {"revision": "9"}, "succeeded": True}],
    )
    assert [path for path, _ in calls] == ["/v3/lease/keepalive", "/v3/kv/txn"]
    assert calls[0][1] == {"ID": "42"}
    assert calls[1][1]["compare"][0]["create_revision"] == "7"
    assert seen == Observation(True, 7, "me")


def test_a_leader_whose_key_was_taken_reports_the_new_holder() -> None:
    session = _Session("elect", FakeClock().now)
    session.lease_id, session.token = 42, 7
    _, seen = run(
        session.acquire_or_renew("me", 2.0),
        [{"result": {"TTL": "2"}}, failed_txn(kv(11, 11, 99))],
    )
    assert seen == Observation(False, 11, "other", free_in=2.0)
    assert session.token is None


def test_a_lease_gone_from_etcd_is_replaced_by_a_new_one() -> None:
    session = _Session("elect", FakeClock().now)
    session.lease_id, session.token = 42, 7
    calls, seen = run(
        session.acquire_or_renew("me", 2.0),
        [
            {"result": {"ID": "42"}},  # no TTL: expired or revoked
            {"ID": "43", "TTL": "2"},
            {"header": {"revision": "12"}, "succeeded": True},
        ],
    )
    assert [path for path, _ in calls] == ["/v3/lease/keepalive", "/v3/lease/grant", "/v3/kv/txn"]
    assert seen == Observation(True, 12, "me")


def test_a_win_whose_answer_was_lost_is_recognised_by_the_lease_on_the_key() -> None:
    session = _Session("elect", FakeClock().now)
    session.lease_id = 42
    _, seen = run(
        session.acquire_or_renew("me", 2.0),
        [{"result": {"TTL": "2"}}, failed_txn(kv(8, 8, 42, "me"))],
    )
    assert seen == Observation(True, 8, "me")
    assert session.token == 8


def test_a_candidate_takes_over_a_key_whose_renewals_stopped_for_a_lease_duration() -> None:
    clock = FakeClock()
    session = _Session("elect", clock.now)
    session.lease_id = 42
    keepalive = {"result": {"TTL": "2"}}
    _, seen = run(session.acquire_or_renew("me", 2.0), [keepalive, failed_txn(kv(9, 10, 99))])
    assert seen.free_in == 2.0
    clock.advance(1.0)
    _, seen = run(session.acquire_or_renew("me", 2.0), [keepalive, failed_txn(kv(9, 12, 99))])
    assert seen.free_in == 2.0  # it renewed (mod revision moved): the wait starts again
    clock.advance(1.5)
    _, seen = run(session.acquire_or_renew("me", 2.0), [keepalive, failed_txn(kv(9, 12, 99))])
    assert seen.free_in == pytest.approx(0.5)
    clock.advance(0.5)
    calls, seen = run(
        session.acquire_or_renew("me", 2.0),
        [
            keepalive,
            {"header": {"revision": "13"}, "succeeded": True},  # deleted
            {"header": {"revision": "14"}, "succeeded": True},  # won
        ],
    )
    delete = calls[1][1]
    assert delete["compare"] == [
        {"key": KEY, "target": "CREATE", "create_revision": "9", "result": "EQUAL"},
        {"key": KEY, "target": "MOD", "mod_revision": "12", "result": "EQUAL"},
    ]
    assert delete["success"] == [{"request_delete_range": {"key": KEY}}]
    assert seen == Observation(True, 14, "me")


def test_a_txn_refused_for_a_vanished_lease_drops_it() -> None:
    session = _Session("elect", FakeClock().now)
    session.lease_id = 42
    flow = session.acquire_or_renew("me", 2.0)
    next(flow)
    flow.send({"result": {"TTL": "1"}})
    with pytest.raises(LeaseStoreError):
        flow.throw(LeaseStoreError("etcdserver: requested lease not found", code=5))
    assert session.lease_id is None


def test_release_revokes_the_lease_and_forgets_the_session() -> None:
    session = _Session("elect", FakeClock().now)
    session.lease_id, session.token = 42, 7
    calls, _ = run(session.release(), [{"header": {}}])
    assert calls == [("/v3/lease/revoke", {"ID": "42"})]
    assert (session.lease_id, session.token) == (None, None)
    assert run(session.release(), []) == ([], None)


def test_gateway_errors_of_both_shapes_are_parsed() -> None:
    unary = _error_of({"error": "etcdserver: no leader", "code": 14}, 503)
    stream = _error_of({"error": {"grpc_code": 5, "message": "lease not found"}}, 200)
    assert unary is not None
    assert (unary.code, str(unary)) == (14, "etcd: etcdserver: no leader (HTTP 503)")
    assert stream is not None
    assert stream.code == 5
    assert _error_of({"header": {}}, 200) is None


def test_the_client_moves_to_the_next_endpoint_when_one_is_down_or_leaderless() -> None:
    seen_hosts: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen_hosts.append(request.url.host)
        if request.url.host == "down":
            raise httpx.ConnectError("refused", request=request)
        if request.url.host == "leaderless":
            return httpx.Response(503, json={"error": "etcdserver: no leader", "code": 14})
        body = json.loads(request.content)
        if request.url.path == "/v3/lease/grant":
            assert body == {"TTL": 2}
            return httpx.Response(200, json={"ID": "5", "TTL": "2"})
        return httpx.Response(200, json={"header": {"revision": "3"}, "succeeded": True})

    client = httpx.Client(transport=httpx.MockTransport(handler))
    lease = EtcdLease(
        ["http://down:2379", "http://leaderless:2379", "http://ok:2379/"], client=client
    )
    assert lease.try_acquire_or_renew("me", 2.0, 1.0) == Observation(True, 3, "me")
    assert seen_hosts == ["down", "leaderless", "ok", "ok"]
    assert lease.lease_id == 5
    lease.close()  # not ours: still usable
    assert not client.is_closed
    client.close()


def test_an_error_that_another_member_cannot_fix_is_raised_at_once() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"error": "etcdserver: bad request", "code": 3})

    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        lease = EtcdLease(["http://a:2379", "http://b:2379"], client=client)
        with pytest.raises(LeaseStoreError, match="bad request") as raised:
            lease.try_acquire_or_renew("me", 2.0, 1.0)
        assert raised.value.code == 3


def test_no_endpoints_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="at least one etcd endpoint"):
        EtcdLease([])
