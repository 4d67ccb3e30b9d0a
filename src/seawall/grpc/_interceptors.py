"""The interceptor objects grpcio calls, and channels built with them.

Each is a thin shell over :class:`~seawall.grpc._client.Target`: unary calls go through
the target's per-method pipeline; streaming calls only get their timeout and metadata.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc
import grpc.aio

from seawall import ConfigError
from seawall._outbound import ClientPolicies
from seawall.grpc._channel import GuardedChannel
from seawall.grpc._client import NO_RETRIES, Target, _method_name

__all__ = [
    "AsyncClientInterceptor",
    "ClientInterceptor",
    "aio_channel",
    "aio_client_interceptors",
    "channel",
    "client_interceptors",
]

ChannelOptions = Sequence[tuple[str, Any]]


def policies_of(target: Target, asked: str | None) -> ClientPolicies:
    """``target``'s policies, if ``asked`` (when given) names it; else a KeyError.

    The accessor takes the target as the HTTP clients' ``policies(url)`` takes the URL,
    so code reading a dependency's state reads it the same way on every client.
    """
    if asked is not None and asked not in (target.target, target.label):
        raise KeyError(f"this channel's target is {target.target!r}, not {asked!r}")
    return target.policies()


class ClientInterceptor(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """seawall's policies for a sync channel to one target (``grpc.intercept_channel``)."""

    def __init__(self, target: Target) -> None:
        self.target = target

    def policies(self, target: str | None = None) -> ClientPolicies:
        """The target's retry, breaker and bulkhead (``target``, if given, must be it)."""
        return policies_of(self.target, target)

    def intercept_unary_unary(
        self, continuation: Any, client_call_details: Any, request: Any
    ) -> Any:
        send = self.target.sender(_method_name(client_call_details.method))
        return send(continuation, client_call_details, request)

    def intercept_unary_stream(
        self, continuation: Any, client_call_details: Any, request: Any
    ) -> Any:
        shaped, _ = self.target.shape(client_call_details, key=False, aio=False)
        return continuation(shaped, request)

    def intercept_stream_unary(
        self, continuation: Any, client_call_details: Any, request_iterator: Any
    ) -> Any:
        shaped, _ = self.target.shape(client_call_details, key=False, aio=False)
        return continuation(shaped, request_iterator)

    def intercept_stream_stream(
        self, continuation: Any, client_call_details: Any, request_iterator: Any
    ) -> Any:
        shaped, _ = self.target.shape(client_call_details, key=False, aio=False)
        return continuation(shaped, request_iterator)


class AsyncClientInterceptor(
    grpc.aio.UnaryUnaryClientInterceptor,
    grpc.aio.UnaryStreamClientInterceptor,
    grpc.aio.StreamUnaryClientInterceptor,
    grpc.aio.StreamStreamClientInterceptor,
):
    """The ``grpc.aio`` twin of :class:`ClientInterceptor`."""

    def __init__(self, target: Target) -> None:
        self.target = target

    def policies(self, target: str | None = None) -> ClientPolicies:
        """The target's retry, breaker and bulkhead (``target``, if given, must be it)."""
        return policies_of(self.target, target)

    async def intercept_unary_unary(
        self, continuation: Any, client_call_details: Any, request: Any
    ) -> Any:
        send = self.target.asender(_method_name(client_call_details.method))
        return await send(continuation, client_call_details, request)

    async def intercept_unary_stream(
        self, continuation: Any, client_call_details: Any, request: Any
    ) -> Any:
        shaped, _ = self.target.shape(client_call_details, key=False, aio=True)
        return await continuation(shaped, request)

    async def intercept_stream_unary(
        self, continuation: Any, client_call_details: Any, request_iterator: Any
    ) -> Any:
        shaped, _ = self.target.shape(client_call_details, key=False, aio=True)
        return await continuation(shaped, request_iterator)

    async def intercept_stream_stream(
        self, continuation: Any, client_call_details: Any, request_iterator: Any
    ) -> Any:
        shaped, _ = self.target.shape(client_call_details, key=False, aio=True)
        return await continuation(shaped, request_iterator)


def client_interceptors(target: str, **options: Any) -> list[ClientInterceptor]:
    """Interceptors for a sync channel to ``target``: ``grpc.intercept_channel(ch, *these)``.

    Options (each checked now, :class:`~seawall.ConfigError` if bad): ``timeout`` (cap per
    attempt, 1 s), ``total_timeout`` (2 s), ``attempts`` (3), ``backoff``,
    ``retry_budget`` (ratio, 0.1), ``failure_rate``, ``min_calls``, ``cooldown`` (the
    breaker), ``max_concurrent`` / ``max_queue`` (the bulkhead, 64 / 64),
    ``idempotency_keys`` (True), ``name`` (the metrics' ``name`` label of the target's
    policies, ``"client"``), ``clock``, ``rng``. The channel must have grpcio's own
    retries off: build it with :func:`channel` or pass :data:`NO_RETRIES` as options.
    """
    return [ClientInterceptor(Target(target, **options))]


def aio_client_interceptors(target: str, **options: Any) -> list[AsyncClientInterceptor]:
    """Interceptors for a ``grpc.aio`` channel to ``target`` (``interceptors=these``)."""
    return [AsyncClientInterceptor(Target(target, **options))]


def _channel_options(options: ChannelOptions) -> list[tuple[str, Any]]:
    merged: list[tuple[str, Any]] = []
    for item in options:
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)):
            raise ConfigError(f"channel options are (name, value) pairs, got {item!r}")
        name, value = item
        if name == "grpc.enable_retries":
            if value not in (0, False):
                raise ConfigError(
                    "grpc.enable_retries must stay 0: seawall retries, and grpcio retrying "
                    "beneath it would multiply the attempts"
                )
            continue
        merged.append((name, value))
    return [*merged, *NO_RETRIES]


def channel(
    target: str,
    *,
    credentials: grpc.ChannelCredentials | None = None,
    options: ChannelOptions = (),
    **policy_options: Any,
) -> GuardedChannel:
    """A sync channel to ``target`` with grpcio's retries off and seawall's policies.

    Insecure without ``credentials``; ``options`` are grpcio channel options;
    ``policy_options`` are :func:`client_interceptors`' options. Unary calls run the
    interceptor's logic directly, without grpcio's per-call interception cost;
    ``channel.policies(target)`` gives the target's retry, breaker and bulkhead.
    """
    (interceptor,) = client_interceptors(target, **policy_options)
    merged = _channel_options(options)
    raw = (
        grpc.insecure_channel(target, options=merged)
        if credentials is None
        else grpc.secure_channel(target, credentials, options=merged)
    )
    return GuardedChannel(raw, interceptor.target, grpc.intercept_channel(raw, interceptor))


def aio_channel(
    target: str,
    *,
    credentials: grpc.ChannelCredentials | None = None,
    options: ChannelOptions = (),
    **policy_options: Any,
) -> grpc.aio.Channel:
    """The ``grpc.aio`` twin of :func:`channel` (create it inside the running loop)."""
    interceptors = aio_client_interceptors(target, **policy_options)
    merged = _channel_options(options)
    if credentials is None:
        return grpc.aio.insecure_channel(target, options=merged, interceptors=interceptors)
    return grpc.aio.secure_channel(target, credentials, options=merged, interceptors=interceptors)
