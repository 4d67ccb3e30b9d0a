"""Requests shaped as Toxiproxy's Go client sends them, errors worded as it words them.

Toxiproxy's ``api_test.go`` drives its server through its Go client and compares the
client's error strings (``Create: HTTP 400: missing required field: name``). This is
that client's wire behaviour in Python, so the tests here can make the same requests
against ``seawall proxy`` and assert the same strings.
"""

from __future__ import annotations

import socket
from typing import Any

import httpx


class ToxiproxyError(Exception):
    """An answer other than the one the Go client expected, formatted as it formats it."""


class GoClient:
    """Toxiproxy's Go client (``client/client.go``), request for request."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=5)

    def close(self) -> None:
        self.http.close()

    @staticmethod
    def _check(response: httpx.Response, expected: int, caller: str) -> httpx.Response:
        if response.status_code != expected:
            try:
                message = response.json()["error"]
            except (ValueError, KeyError, TypeError):
                message = f"Unexpected response code, expected {expected}"
            raise ToxiproxyError(f"{caller}: HTTP {response.status_code}: {message}")
        return response

    # -- proxies -----------------------------------------------------------------------

    def proxies(self) -> dict[str, Any]:
        return self._check(self.http.get("/proxies"), 200, "Proxies").json()

    def proxy(self, name: str) -> dict[str, Any]:
        return self._check(self.http.get(f"/proxies/{name}"), 200, "Proxy").json()

    def create_proxy(
        self, name: str, listen: str, upstream: str, *, enabled: bool = True
    ) -> dict[str, Any]:
        """``CreateProxy``, or ``NewProxy`` + ``Save`` with ``enabled`` as set."""
        body = {"name": name, "listen": listen, "upstream": upstream, "enabled": enabled}
        body["toxics"] = None  # the Go struct's nil ActiveToxics
        response = self.http.post("/proxies", json=body)
        return self._check(response, 201, "Create").json()

    def save(self, proxy: dict[str, Any]) -> dict[str, Any]:
        """``Save`` of a created proxy: the whole proxy, posted back to update it."""
        response = self.http.post(f"/proxies/{proxy['name']}", json=proxy)
        return self._check(response, 200, "Save").json()

    def delete(self, name: str) -> None:
        self._check(self.http.delete(f"/proxies/{name}"), 204, "Delete")

    def populate(self, proxies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        body = [{"toxics": None, "enabled": False, **p} for p in proxies]
        response = self._check(self.http.post("/populate", json=body), 201, "Populate")
        return response.json()["proxies"]

    def reset_state(self) -> None:
        self._check(self.http.post("/reset", content=b""), 204, "ResetState")

    # -- toxics ------------------------------------------------------------------------

    def toxics(self, proxy: str) -> list[dict[str, Any]]:
        response = self.http.get(f"/proxies/{proxy}/toxics")
        return self._check(response, 200, "Toxics").json()

    def add_toxic(
        self,
        proxy: str,
        name: str,
        type_name: str,
        stream: str,
        toxicity: float,
        attributes: dict[str, Any] | None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"name": name, "type": type_name}
        if stream:  # `json:"stream,omitempty"`
            body["stream"] = stream
        body["toxicity"] = 1.0 if toxicity == -1 else toxicity
        body["attributes"] = attributes
        response = self.http.post(f"/proxies/{proxy}/toxics", json=body)
        return self._check(response, 200, "AddToxic").json()

    def update_toxic(
        self, proxy: str, name: str, toxicity: float, attributes: dict[str, Any]
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"attributes": attributes}
        if toxicity != -1:
            body["toxicity"] = toxicity
        response = self.http.patch(f"/proxies/{proxy}/toxics/{name}", json=body)
        return self._check(response, 200, "UpdateToxic").json()

    def remove_toxic(self, proxy: str, name: str) -> None:
        response = self.http.delete(f"/proxies/{proxy}/toxics/{name}")
        self._check(response, 204, "RemoveToxic")

    def clear(self) -> None:
        """Delete every proxy: what Toxiproxy's tests do between tests."""
        for name in self.proxies():
            self.delete(name)


def proxy_up(listen: str) -> bool:
    """Whether a connection to ``listen`` is accepted (Toxiproxy's ``AssertProxyUp``)."""
    host, port = listen.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return True
    except OSError:
        return False


def toxic_named(toxics: list[dict[str, Any]], name: str, stream: str = "") -> dict[str, Any] | None:
    """The toxic called ``name`` (on ``stream``, if given), as ``AssertToxicExists`` finds it."""
    for toxic in toxics:
        if toxic["name"] == name and stream in ("", toxic["stream"]):
            return toxic
    return None
