"""Plain ``def`` handlers under a ``grpc.aio`` server's seawall interceptor.

grpc.aio accepts handlers that are plain functions and runs them in a worker thread.
seawall's aio interceptor wraps every handler in an ``async`` one (its admission and
deadline scope are asynchronous), so grpc.aio no longer sees a plain handler: the
interceptor must run it in a thread itself, with the call's context copied in, or the
deadline and priority scopes would not reach it.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

__all__ = ["drained", "invoke"]


async def invoke(inner: Callable[..., Any], kind: str, request: Any, context: Any) -> Any:
    """Call an aio server's handler, a coroutine function or a plain ``def``.

    grpc.aio runs a plain handler in a worker thread; wrapped in seawall's ``async``
    handler it must be run there explicitly, or its answer would be awaited as if it were
    a coroutine. The thread gets a copy of the call's context, so the deadline and
    priority scopes reach it, and a stream of requests is handed to it as a blocking
    iterator.
    """
    if inspect.iscoroutinefunction(inner) or inspect.isasyncgenfunction(inner):
        return inner(request, context)
    loop = asyncio.get_running_loop()
    if kind.startswith("stream_"):
        request = _blocking(request, loop)
    scope = contextvars.copy_context()
    return await loop.run_in_executor(None, scope.run, inner, request, context)


def _blocking(requests: Any, loop: asyncio.AbstractEventLoop) -> Iterator[Any]:
    """An async iterator of requests, read from a worker thread as a plain iterator."""
    if not hasattr(requests, "__aiter__"):
        yield from requests
        return
    iterator = requests.__aiter__()

    async def step() -> Any:
        return await iterator.__anext__()

    while True:
        try:
            yield asyncio.run_coroutine_threadsafe(step(), loop).result()
        except StopAsyncIteration:
            return


async def drained(results: Iterator[Any]) -> AsyncIterator[Any]:
    """A plain generator of responses, advanced in a worker thread one item at a time."""
    loop = asyncio.get_running_loop()
    scope = contextvars.copy_context()
    done = object()

    def step() -> Any:
        return next(results, done)

    while True:
        item = await loop.run_in_executor(None, scope.run, step)
        if item is done:
            return
        yield item
