"""Idempotent replay never crosses users: cookie sessions through ``protect()`` on uvicorn.

The app authenticates by a session cookie, as Flask, Django, Express or Java apps do; the
browser also sends analytics and CSRF cookies that change between a request and its
retry. One user's key, even learnt by another, must never give the other user the stored
response, a 409 or a 422.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import seawall.http
from tests.integration.http.servers import ServerThread

_charges = itertools.count(1)


async def charges(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """POST /charges: a new charge for the caller named by its session cookie."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if b"slow" in scope.get("query_string", b""):
        await asyncio.sleep(0.5)
    cookies: dict[str, str] = {}
    for name, value in scope["headers"]:
        if name == b"cookie":
            for pair in value.decode().split(";"):
                k, _, v = pair.strip().partition("=")
                cookies[k] = v
    answer = {"charge": next(_charges), "user": cookies.get("sessionid"), "body": body.decode()}
    payload = json.dumps(answer).encode()
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 201, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with ServerThread(seawall.http.protect(charges, shedder=False)) as base:
        yield base


def post(
    url: str, key: str, session: str, body: str, extra: str, path: str = "/charges"
) -> httpx.Response:
    cookie = f"_ga=GA1.{extra}; sessionid={session}; csrftoken={extra}"
    return httpx.post(
        url + path, content=body, headers={"Idempotency-Key": key, "Cookie": cookie}, timeout=5
    )


def test_a_users_own_retry_is_replayed_even_with_new_analytics_cookies(url: str) -> None:
    first = post(url, "own-retry", "alice", '{"amount": 5}', "1")
    retry = post(url, "own-retry", "alice", '{"amount": 5}', "2")
    assert first.status_code == 201
    assert retry.headers.get("idempotent-replayed") == "true"
    assert retry.json() == first.json()


def test_another_user_with_the_same_key_and_body_gets_their_own_answer(url: str) -> None:
    alice = post(url, "shared-key", "alice", '{"amount": 5}', "1")
    bob = post(url, "shared-key", "bob", '{"amount": 5}', "1")
    assert alice.json()["user"] == "alice"
    assert bob.status_code == 201
    assert "idempotent-replayed" not in bob.headers
    assert bob.json()["user"] == "bob"
    assert bob.json()["charge"] != alice.json()["charge"]


def test_another_user_with_the_same_key_and_another_body_gets_no_422(url: str) -> None:
    post(url, "probe-key", "alice", '{"amount": 5}', "1")
    bob = post(url, "probe-key", "bob", '{"amount": 900}', "1")
    assert bob.status_code == 201, bob.text
    assert bob.json()["user"] == "bob"


def test_another_user_with_a_key_in_flight_gets_no_409(url: str) -> None:
    results: dict[str, httpx.Response] = {}

    def alice() -> None:
        results["alice"] = post(url, "in-flight", "alice", "{}", "1", "/charges?slow=1")

    thread = threading.Thread(target=alice)
    thread.start()
    try:
        time.sleep(0.2)  # alice's request holds the key for 0.5 s
        bob = post(url, "in-flight", "bob", "{}", "1", "/charges?slow=1")
    finally:
        thread.join(timeout=5)
    assert bob.status_code == 201, bob.text
    assert bob.json()["user"] == "bob"
    assert results["alice"].json()["user"] == "alice"
