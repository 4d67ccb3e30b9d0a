"""The channel :func:`~seawall.grpc.channel` returns: the client interceptor, applied directly.

``grpc.intercept_channel`` builds a new multi-callable for every call it intercepts, which
costs about as much as seawall's whole client policy stack. This channel runs the same
:class:`~seawall.grpc._client.Target` logic (timeout, metadata, retries, breaker,
bulkhead) on unary calls made with ``stub.Method(...)`` or ``.with_call(...)``, over one
multi-callable per method. ``.future(...)`` and the streaming kinds go through the
ordinary intercepted channel, with the same interceptor.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any

import grpc

from seawall._outbound import ClientPolicies
from seawall.grpc._client import RpcMethod, Target

__all__ = ["GuardedChannel"]


class _UnaryUnary(grpc.UnaryUnaryMultiCallable):  # type: ignore[type-arg]
    def __init__(
        self, raw: Any, intercepted: Any, send: Callable[..., Any], method: RpcMethod
    ) -> None:
        self._raw = raw
        self._intercepted = intercepted
        self._send = send
        self._method = method

    def __call__(
        self,
        request: Any,
        timeout: float | None = None,
        metadata: Any = None,
        credentials: Any = None,
        wait_for_ready: bool | None = None,
        compression: Any = None,
    ) -> Any:
        # grpcio's __call__ skips building the call object that with_call returns
        return self._send(
            self._raw,
            self._method,
            request,
            timeout,
            metadata,
            credentials,
            wait_for_ready,
            compression,
        )

    def with_call(
        self,
        request: Any,
        timeout: float | None = None,
        metadata: Any = None,
        credentials: Any = None,
        wait_for_ready: bool | None = None,
        compression: Any = None,
    ) -> tuple[Any, Any]:
        return self._send(  # type: ignore[no-any-return]
            self._raw.with_call,
            self._method,
            request,
            timeout,
            metadata,
            credentials,
            wait_for_ready,
            compression,
        )

    def future(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        return self._intercepted.future(request, *args, **kwargs)


class GuardedChannel(grpc.Channel):
    """A sync channel whose calls go through one target's seawall policies."""

    def __init__(self, raw: grpc.Channel, target: Target, intercepted: grpc.Channel) -> None:
        self._raw = raw
        self.target = target
        self._intercepted = intercepted

    def policies(self, target: str | None = None) -> ClientPolicies:
        """The target's retry, breaker and bulkhead (``target``, if given, must be it)."""
        if target is not None and target not in (self.target.target, self.target.label):
            raise KeyError(f"this channel's target is {self.target.target!r}, not {target!r}")
        return self.target.policies()

    def unary_unary(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return _UnaryUnary(
            self._raw.unary_unary(method, *args, **kwargs),
            self._intercepted.unary_unary(method, *args, **kwargs),
            self.target.caller(),
            RpcMethod(self.target, method),
        )

    def unary_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self._intercepted.unary_stream(method, *args, **kwargs)

    def stream_unary(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self._intercepted.stream_unary(method, *args, **kwargs)

    def stream_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self._intercepted.stream_stream(method, *args, **kwargs)

    def subscribe(self, callback: Any, try_to_connect: bool = False) -> None:
        self._raw.subscribe(callback, try_to_connect=try_to_connect)

    def unsubscribe(self, callback: Any) -> None:
        self._raw.unsubscribe(callback)

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> GuardedChannel:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        self.close()
        return None
