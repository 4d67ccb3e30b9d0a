"""Answers in WSGI terms: the ASGI edge's byte-pair headers and problem bodies, sent
through ``start_response``; and the held ``start_response`` a 504 can still replace."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from http import HTTPStatus
from types import TracebackType
from typing import Any, Protocol

from seawall.http._asgi import problem

__all__ = ["Environ", "Headers", "StartResponse", "WSGIApp", "answer", "refuse"]

Environ = dict[str, Any]
Headers = list[tuple[str, str]]
ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


class StartResponse(Protocol):
    def __call__(
        self, status: str, headers: Headers, exc_info: ExcInfo | None = None, /
    ) -> Callable[[bytes], object]: ...


WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]


def answer(
    start_response: StartResponse,
    status: int,
    headers: Iterable[tuple[bytes, bytes]],
    body: bytes,
    reason: str = "",
) -> list[bytes]:
    """Send a complete answer made of ASGI-style byte pairs through ``start_response``."""
    start_response(
        f"{status} {reason or _reason(status)}",
        [(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers],
    )
    return [body]


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def refuse(
    start_response: StartResponse,
    status: int,
    title: str,
    detail: str,
    *,
    retry_after: float | None = None,
) -> list[bytes]:
    """Answer with seawall's problem+json body (shared with the ASGI edge)."""
    headers, body = problem(status, title, detail, retry_after=retry_after)
    return answer(start_response, status, headers, body)


class _Held:
    """The app's ``start_response``, held until the app returns (so a 504 can replace it)."""

    __slots__ = ("_start", "exc_info", "headers", "sent", "status")

    def __init__(self, start: StartResponse) -> None:
        self._start = start
        self.status = ""
        self.headers: Headers = []
        self.exc_info: ExcInfo | None = None
        self.sent = False

    def __call__(
        self, status: str, headers: Headers, exc_info: ExcInfo | None = None, /
    ) -> Callable[[bytes], object]:
        if exc_info is not None and self.sent:
            raise exc_info[1].with_traceback(exc_info[2])
        self.status, self.headers, self.exc_info = status, headers, exc_info
        return self._write

    def _write(self, data: bytes) -> object:
        # Legacy write(): the status must go out now; the deadline can no longer change it.
        return self.commit()(data)

    def commit(self, extra: tuple[str, str] | None = None) -> Callable[[bytes], object]:
        if self.sent:
            raise RuntimeError("start_response was already sent")
        self.sent = True
        headers = self.headers if extra is None else [*self.headers, extra]
        return self._start(self.status, headers, self.exc_info)
