"""A real uvicorn app that fails on demand, and a proxy in front of it that resets.

``/fail/{key}?n=N&status=S&retry_after=R&hang=1&close=1`` (the app): the first N
requests for ``key`` answer S (default 503), then 200; ``hang=1`` never answers and
waits for the client to give up; ``close=1`` closes the connection after a failure, so
the next attempt opens a new one. Every request's headers and body are kept per key.

:class:`ResetProxy` forwards each connection to the app, except a first request whose
path holds ``reset=A`` and whose ``X-Request-Attempt`` is A: that connection is reset
(an RST, not a FIN), as a crashed load balancer or a killed pod does.
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
from collections import defaultdict
from typing import Any
from urllib.parse import parse_qs

from tests.integration.sockets import FaultServer


class Recorder:
    """The ASGI app (see the module docstring)."""

    def __init__(self) -> None:
        self.seen: dict[str, list[dict[str, str]]] = defaultdict(list)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        headers["body"] = body.decode()
        key = scope["path"].rsplit("/", 1)[-1]
        self.seen[key].append(headers)
        query = {k: v[0] for k, v in parse_qs(scope["query_string"].decode()).items()}
        if query.get("hang"):
            while (await receive())["type"] != "http.disconnect":
                pass
            return
        status = 200
        extra: list[tuple[bytes, bytes]] = []
        if len(self.seen[key]) <= int(query.get("n", "0")):
            status = int(query.get("status", "503"))
            if "retry_after" in query:
                extra.append((b"retry-after", query["retry_after"].encode()))
            if query.get("close"):
                extra.append((b"connection", b"close"))
            if query.get("no_retry"):
                extra.append((b"x-request-retry", b"no"))
        payload = json.dumps({"attempt": len(self.seen[key])}).encode()
        start = {"type": "http.response.start", "status": status}
        start["headers"] = [(b"content-type", b"application/json"), *extra]
        await send(start)
        await send({"type": "http.response.body", "body": payload})


class ResetProxy(FaultServer):
    """A loopback TCP proxy to ``port`` that resets the attempts a request asks it to."""

    def __init__(self, port: int) -> None:
        super().__init__("hang")
        self.upstream = port
        self.resets: list[bytes] = []  # the request heads of the connections reset

    def _serve(self, conn: socket.socket) -> None:
        head = b""
        with contextlib.suppress(OSError):
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                head += chunk
            if self._resets(head):
                self.resets.append(head)
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()  # linger 0: the peer gets an RST
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream))
            with self._lock:
                self._open.append(upstream)
            upstream.sendall(head)
            threading.Thread(target=_pump, args=(upstream, conn), daemon=True).start()
            _pump(conn, upstream)

    @staticmethod
    def _resets(head: bytes) -> bool:
        text = head.decode("latin-1").lower()
        line, _, fields = text.partition("\r\n")
        query = parse_qs(line.split(" ")[1].partition("?")[2])
        wanted = query.get("reset")
        return wanted is not None and f"x-request-attempt: {wanted[0]}\r\n" in fields + "\r\n"


def _pump(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)
