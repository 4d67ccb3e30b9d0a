"""The gRPC server edge's "do not retry" (grpc-retry-pushback-ms: -1), on a stand-in context."""

from __future__ import annotations

import contextvars
from typing import Any

import grpc

from seawall import _pushback
from seawall.grpc import PUSHBACK_KEY
from seawall.grpc._pushback import after_answer, after_error


class Context:
    """The two parts of a ServicerContext the edge uses: trailing metadata and the code."""

    def __init__(self, code: grpc.StatusCode | None = None) -> None:
        self._code = code
        self.trailing: tuple[tuple[str, str], ...] = (("x-kept", "1"),)

    def trailing_metadata(self) -> Any:
        return self.trailing

    def set_trailing_metadata(self, metadata: Any) -> None:
        self.trailing = tuple(metadata)

    def code(self) -> grpc.StatusCode | None:
        return self._code


def _spent() -> ConnectionError:
    exc = ConnectionError()
    _pushback.spend(exc)
    return exc


def test_a_spent_error_ends_the_call_with_negative_pushback_keeping_the_metadata() -> None:
    def serve() -> Context:
        context = Context()
        after_error(context, _spent())
        return context

    context = contextvars.copy_context().run(serve)
    assert context.trailing == (("x-kept", "1"), (PUSHBACK_KEY, "-1"))


def test_an_error_code_set_after_a_spent_call_gets_it_and_an_ok_answer_does_not() -> None:
    def serve(code: grpc.StatusCode) -> tuple[Any, bool]:
        context = Context(code)
        _spent()  # a call made for this request was spent; the handler caught it
        after_answer(context)
        return context.trailing, _pushback.noted()

    failed = contextvars.copy_context().run(serve, grpc.StatusCode.UNAVAILABLE)
    assert failed == ((("x-kept", "1"), (PUSHBACK_KEY, "-1")), False)
    recovered = contextvars.copy_context().run(serve, grpc.StatusCode.OK)
    assert recovered == ((("x-kept", "1"),), False)  # and the note is cleared either way


def test_a_plain_failure_says_nothing() -> None:
    context = Context(grpc.StatusCode.UNAVAILABLE)
    after_error(context, ConnectionError())
    after_answer(context)
    assert context.trailing == (("x-kept", "1"),)
