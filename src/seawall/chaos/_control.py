"""The control API: Toxiproxy's REST API over HTTP/1.1, on asyncio streams.

=======  ===================================  ==============================================
method   path                                 does
=======  ===================================  ==============================================
GET      /proxies                             every proxy, by name
POST     /proxies                             create a proxy (201; 409 if the name exists)
POST     /populate                            create or replace many proxies (201)
GET      /proxies/{proxy}                     one proxy, with its toxics
POST     /proxies/{proxy}                     update listen, upstream or enabled (also PATCH)
DELETE   /proxies/{proxy}                     delete a proxy (204)
GET      /proxies/{proxy}/toxics              its toxics
POST     /proxies/{proxy}/toxics              add a toxic (409 if the name exists)
GET      /proxies/{proxy}/toxics/{toxic}      one toxic
POST     /proxies/{proxy}/toxics/{toxic}      update toxicity or attributes (also PATCH)
DELETE   /proxies/{proxy}/toxics/{toxic}      remove a toxic (204)
POST     /reset                               enable every proxy, remove every toxic (204)
GET      /version                             ``{"version": "2.11.0"}`` (the Toxiproxy API level)
GET      /metrics                             bytes per proxy and direction, Prometheus text
=======  ===================================  ==============================================

Errors are Toxiproxy's ``{"error": message, "status": code}`` with its texts, which its
clients and tests match: 400 for a bad body (``missing required field: name``; other
messages name the field), 404 ``proxy not found`` / ``toxic not found`` (and unknown
paths), 405 for a wrong method, 409 ``proxy already exists`` / ``toxic already exists``,
500 for a listen address that cannot be bound (Go's ``listen tcp 127.0.0.1:3310: bind:
address already in use``). As in Toxiproxy, requests from browsers (``User-Agent:
Mozilla/...``) get 403, so a web page cannot drive the proxy through the user's browser,
and every response carries an ``X-Toxiproxy-Request-Id`` to match it with the log.
Unknown JSON fields are ignored with a logged warning, as Toxiproxy ignores them, unless
the API is ``strict``: then they are 400s, so a typo cannot silently turn a fault off.

The HTTP side is deliberately small: HTTP/1.1 with keep-alive, ``Content-Length`` or
chunked bodies up to 1 MiB, headers up to 64 KiB. :meth:`ControlAPI.handle` is the whole
API as a plain function of (method, path, body), which is what the fuzz tests drive.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from importlib import metadata
from typing import Any
from urllib.parse import unquote, urlsplit

from seawall._errors import ConfigError
from seawall.chaos._proxy import Proxy
from seawall.chaos._registry import ProxyRegistry
from seawall.chaos._spec import (
    AlreadyExists,
    FieldError,
    ListenError,
    NotFound,
    ProxyConfig,
    Toxic,
    parse_json,
    proxies_from_json,
)
from seawall.chaos._traffic import CONTENT_TYPE, render

__all__ = ["MAX_BODY", "TOXIPROXY_VERSION", "ControlAPI", "HTTPError", "Request", "parse_head"]

logger = logging.getLogger("seawall.chaos")

MAX_BODY = 1 << 20
# The Toxiproxy release whose API this serves: ``GET /version`` answers it, in
# Toxiproxy's own shape, because clients read it to decide what the server supports.
# seawall's own version is in the ``Server`` header of every response.
TOXIPROXY_VERSION = "2.11.0"
_REASONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    411: "Length Required",
    413: "Content Too Large",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
}
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _version() -> str:
    try:
        return metadata.version("seawall")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


_SEAWALL_VERSION = _version()


class HTTPError(Exception):
    """A request the server answers with ``status`` and closes the connection after."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Request:
    """A parsed request head."""

    __slots__ = ("headers", "keep_alive", "method", "path")

    def __init__(self, method: str, path: str, headers: dict[str, str], keep_alive: bool) -> None:
        self.method = method
        self.path = path
        self.headers = headers
        self.keep_alive = keep_alive


def parse_head(head: bytes) -> Request:
    """Parse a request line and headers (ending in a blank line); HTTPError if malformed."""
    try:
        text = head.decode("ascii")
    except UnicodeDecodeError:
        raise HTTPError(400, "request head is not ASCII") from None
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[0] or not set(parts[0]) <= _TOKEN:
        raise HTTPError(400, "malformed request line")
    method, target, version = parts
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        raise HTTPError(400, f"unsupported HTTP version {version!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or not set(name) <= _TOKEN:
            raise HTTPError(400, "malformed header line")
        key = name.lower()
        value = value.strip(" \t")
        if (
            key in ("content-length", "transfer-encoding", "host")
            and headers.get(key, value) != value
        ):
            raise HTTPError(400, f"conflicting {name} headers")
        headers[key] = value
    try:
        path = urlsplit(target).path if not target.startswith("/") else target.split("?")[0]
    except ValueError:
        raise HTTPError(400, "malformed request target") from None
    connection = headers.get("connection", "").lower()
    keep_alive = "close" not in connection and (version == "HTTP/1.1" or "keep-alive" in connection)
    return Request(method, path or "/", headers, keep_alive)


Response = tuple[int, Any]


class PlainText(str):
    """A response body sent as it is (the ``/metrics`` exposition), not as JSON."""


def _error(status: int, message: str) -> Response:
    return status, {"error": message, "status": status}


class ControlAPI:
    """Toxiproxy's REST API over a :class:`ProxyRegistry`; runs on the registry's loop."""

    def __init__(self, registry: ProxyRegistry, *, strict: bool = False) -> None:
        self.registry = registry
        self.strict = strict

    def handle(self, method: str, path: str, body: bytes = b"", user_agent: str = "") -> Response:
        """Answer one request: ``(status, JSON value or None)``."""
        if user_agent.startswith("Mozilla/"):
            return _error(403, "User agent not allowed")
        try:
            return self._route(method, path, body)
        except ListenError as exc:  # Toxiproxy's 500, with Go's text
            return _error(500, exc.wire)
        except ConfigError as exc:  # FieldError included: the message names the field
            return _error(400, str(exc))
        except NotFound as exc:
            return _error(404, exc.wire)
        except AlreadyExists as exc:
            return _error(409, exc.wire)
        except Exception:
            logger.exception("control API: %s %s failed", method, path)
            return _error(500, "internal error")

    def _route(self, method: str, path: str, body: bytes) -> Response:
        segments = [unquote(s) for s in path.strip("/").split("/")]
        strict = self.strict
        match segments, method:
            case ["version"], "GET":
                return 200, {"version": TOXIPROXY_VERSION}
            case ["metrics"], "GET":
                return 200, PlainText(render(self.registry))
            case ["reset"], "POST":
                self.registry.reset()
                return 204, None
            case ["populate"], "POST":
                configs = proxies_from_json(_body(body), strict=strict)
                proxies = self.registry.populate(configs)
                return 201, {"proxies": [p.to_json() for p in proxies]}
            case ["proxies"], "GET":
                return 200, {p.name: p.to_json() for p in self.registry}
            case ["proxies"], "POST":
                proxy = self.registry.create(ProxyConfig.from_json(_body(body), strict=strict))
                return 201, proxy.to_json()
            case ["proxies", name], "GET":
                return 200, self.registry.get(name).to_json()
            case ["proxies", name], "POST" | "PATCH":
                proxy = self.registry.get(name)
                _update_proxy(proxy, _body(body), strict=strict)
                return 200, proxy.to_json()
            case ["proxies", name], "DELETE":
                self.registry.delete(name)
                return 204, None
            case ["proxies", name, "toxics"], "GET":
                return 200, [t.to_json() for t in self.registry.get(name).toxics]
            case ["proxies", name, "toxics"], "POST":
                proxy = self.registry.get(name)
                toxic = Toxic.from_json(_body(body), strict=strict)
                proxy.add_toxic(toxic)
                return 200, toxic.to_json()
            case ["proxies", name, "toxics", toxic_name], "GET":
                return 200, self.registry.get(name).toxic(toxic_name).to_json()
            case ["proxies", name, "toxics", toxic_name], "POST" | "PATCH":
                proxy = self.registry.get(name)
                toxic = proxy.toxic(toxic_name).updated(_body(body), strict=strict)
                proxy.replace_toxic(toxic)
                return 200, toxic.to_json()
            case ["proxies", name, "toxics", toxic_name], "DELETE":
                self.registry.get(name).remove_toxic(toxic_name)
                return 204, None
        if _known(segments):
            return _error(405, f"method {method} not allowed on {path}")
        return _error(404, f"not found: {path}")


def _known(segments: list[str]) -> bool:
    if segments in (["version"], ["reset"], ["populate"], ["proxies"], ["metrics"]):
        return True
    return segments[:1] == ["proxies"] and (
        len(segments) == 2 or (len(segments) in (3, 4) and segments[2] == "toxics")
    )


def _body(body: bytes) -> Any:
    if not body.strip():
        raise FieldError("", "request body: expected JSON")
    return parse_json(body)


def _update_proxy(proxy: Proxy, data: Any, *, strict: bool) -> None:
    if not isinstance(data, dict):
        raise FieldError("", "request body: expected a JSON object")
    for key in data:
        if key not in ("name", "listen", "upstream", "enabled", "toxics"):
            if strict:
                raise FieldError(str(key), "unknown field")
            logger.warning("ignoring unknown field %r; strict mode makes it an error", key)
    if data.get("name") not in (None, "", proxy.name):
        raise FieldError("name", "cannot be changed by an update")
    enabled = data.get("enabled")
    if enabled is not None and not isinstance(enabled, bool):
        raise FieldError("enabled", "must be true or false")
    # Toxiproxy clients send the whole proxy back to update it; its "toxics" are ignored.
    listen = data.get("listen")
    upstream = data.get("upstream")
    proxy.update(
        listen=None if listen in (None, "") else listen,
        upstream=None if upstream in (None, "") else upstream,
        enabled=enabled,
    )


# -- HTTP/1.1 --------------------------------------------------------------------------


async def _read_body(reader: asyncio.StreamReader, request: Request) -> bytes:
    if "chunked" in request.headers.get("transfer-encoding", "").lower():
        return await _read_chunked(reader)
    if "transfer-encoding" in request.headers:
        raise HTTPError(501, "unsupported transfer-encoding")
    length_text = request.headers.get("content-length")
    if length_text is None:
        return b""
    if not length_text.isascii() or not length_text.isdigit() or len(length_text) > 12:
        raise HTTPError(400, "malformed content-length")
    length = int(length_text)
    if length > MAX_BODY:
        raise HTTPError(413, f"body larger than {MAX_BODY} bytes")
    return await reader.readexactly(length)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while True:
        size_line = (await reader.readuntil(b"\r\n"))[:-2].split(b";")[0].strip()
        try:
            size = int(size_line, 16)
        except ValueError:
            raise HTTPError(400, "malformed chunk size") from None
        if size < 0 or len(body) + size > MAX_BODY:
            raise HTTPError(413, f"body larger than {MAX_BODY} bytes")
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                pass
            return bytes(body)
        body += await reader.readexactly(size)
        if await reader.readexactly(2) != b"\r\n":
            raise HTTPError(400, "malformed chunk")


def _encode(status: int, payload: Any, keep_alive: bool) -> bytes:
    if isinstance(payload, PlainText):
        body = payload.encode()
    else:
        body = b"" if payload is None else json.dumps(payload).encode() + b"\n"
    head = [
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}",
        f"Server: seawall/{_SEAWALL_VERSION}",
        # Toxiproxy tags every response so a client's report can be matched to the log.
        f"X-Toxiproxy-Request-Id: {secrets.token_hex(10)}",
    ]
    if isinstance(payload, PlainText):
        head.append(f"Content-Type: {CONTENT_TYPE}")
    elif payload is not None:
        head.append("Content-Type: application/json")
    head.append(f"Content-Length: {len(body)}")
    head.append("Connection: keep-alive" if keep_alive else "Connection: close")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def serve_connection(
    api: ControlAPI, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Serve requests on one connection until the client closes or asks to."""
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                return
            except asyncio.LimitOverrunError:
                writer.write(_encode(*_error(431, "request head too large"), keep_alive=False))
                return
            try:
                request = parse_head(head)
                body = await _read_body(reader, request)
            except HTTPError as exc:
                writer.write(_encode(*_error(exc.status, str(exc)), keep_alive=False))
                return
            except (asyncio.LimitOverrunError, ValueError):
                writer.write(_encode(*_error(400, "malformed body"), keep_alive=False))
                return
            status, payload = api.handle(
                request.method, request.path, body, request.headers.get("user-agent", "")
            )
            writer.write(_encode(status, payload, request.keep_alive))
            await writer.drain()
            if not request.keep_alive:
                return
    except (ConnectionError, asyncio.IncompleteReadError):
        return
    finally:
        writer.close()
