"""The client edge for grpcio: interceptors that apply seawall's policies per target.

Per unary call:

* the call's timeout is the deadline's :func:`~seawall.downstream_timeout` (what is left
  minus the reserve), capped at ``timeout`` per attempt (1 s, the internal-RPC default)
  and at any ``timeout=`` the caller passed, so the callee's ``grpc-timeout`` is always
  shorter than the caller's own budget;
* each method's retries come from :func:`seawall.standard` with ``kind="rpc"``: 3
  attempts in all, backoff from 100 ms, a 2 s total, never sleeping past the deadline;
  what is retried is the table in :mod:`seawall.grpc._status` (UNAVAILABLE; RESOURCE_EXHAUSTED
  with server pushback; DEADLINE_EXCEEDED only when the per-attempt cap fired);
* every attempt of one call carries the same ``idempotency-key``, its ``x-request-attempt``
  and the caller's ``x-request-priority`` in metadata;
* the target has one retry (with its retry budget), one circuit breaker and one
  bulkhead, shared by its methods: a sick server is one dependency, however many methods
  it serves. They are enrolled for metrics under the client's ``name`` with the target
  as the ``target`` label, as the HTTP clients' per-host policies are;
* every attempt is counted in ``rpc.client.duration`` by method and status code.

Streaming calls cannot be replayed, so they get the timeout and metadata, not retries.
grpcio's own retries must be off (``grpc.enable_retries=0``) or both layers would
retry: :func:`channel` and :func:`aio_channel` build channels that way.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NamedTuple

import grpc
import grpc.aio

from seawall import (
    Backoff,
    Bulkhead,
    CircuitBreaker,
    Clock,
    ConfigError,
    DeadlineExceeded,
    Pipeline,
    RetryBudget,
    downstream_timeout,
    standard,
)
from seawall._catalog import enroll, target_label
from seawall._drive import client_attempt, tracing
from seawall._durations import RPC_CLIENT, rpc_labels
from seawall._operation import FirstAttempt, Operation, new_key
from seawall._operation import _current as _operation
from seawall._outbound import ClientPolicies
from seawall._priority import _current as _priority
from seawall._validate import name as policy_name
from seawall.grpc._status import breaker_failure, parse_pushback, remember, retryable
from seawall.wire import ATTEMPT_HEADER, PRIORITY_HEADER

__all__ = ["IDEMPOTENCY_KEY", "NO_RETRIES", "RpcMethod", "Target"]

IDEMPOTENCY_KEY = "idempotency-key"
# grpcio's own retry layer would retry beneath seawall's and multiply attempts.
NO_RETRIES: tuple[tuple[str, int], ...] = (("grpc.enable_retries", 0),)
_OURS = frozenset({IDEMPOTENCY_KEY, PRIORITY_HEADER, ATTEMPT_HEADER})


class _Details(NamedTuple):
    method: Any
    timeout: float | None
    metadata: Any
    credentials: Any
    wait_for_ready: bool | None
    compression: Any


class _SyncDetails(_Details, grpc.ClientCallDetails):
    """The shaped details of one attempt (grpcio reads them by attribute)."""


def _positive(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name} must be a number of seconds, got {value!r}")
    seconds = float(value)
    if not (math.isfinite(seconds) and seconds > 0.0):
        raise ConfigError(f"{name} must be positive and finite, got {value!r}")
    return seconds


def _method_name(method: str | bytes) -> str:
    return method.decode("utf-8", "replace") if isinstance(method, bytes) else method


def _key_of(op: Operation | FirstAttempt | None) -> str:
    """The operation's idempotency key (a fresh one outside any retry)."""
    return new_key() if op is None else op.key


class RpcMethod:
    """One method of a target as its attempts are counted: the path and its labels.

    Made once per multi-callable, so a call neither splits the path nor builds the
    labels of ``rpc.client.duration`` again.
    """

    __slots__ = ("labels", "ok", "path")

    def __init__(self, target: Target, method: str | bytes) -> None:
        self.path = _method_name(method)
        service, name = rpc_labels(self.path)
        self.labels = (target.name, target.label, service, name)
        self.ok = (*self.labels, grpc.StatusCode.OK.value[0])


class Target:
    """One server's policies: its retry (and retry budget), breaker and bulkhead.

    Built by :func:`client_interceptors` / :func:`aio_client_interceptors`;
    :meth:`policies` gives them to read (``statistics()``, :func:`seawall.snapshot`).
    """

    def __init__(
        self,
        target: str,
        *,
        timeout: float = 1.0,
        total_timeout: float = 2.0,
        attempts: int = 3,
        backoff: Backoff | None = None,
        retry_budget: float = 0.1,
        failure_rate: float = 0.5,
        min_calls: int = 20,
        cooldown: float = 30.0,
        max_concurrent: int = 64,
        max_queue: int = 64,
        idempotency_keys: bool = True,
        name: str = "client",
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if not isinstance(target, str) or not target.strip():
            raise ConfigError(f"target must be a non-empty 'host:port' string, got {target!r}")
        self.target = target
        self.name = policy_name(name)
        # Targets are capped process-wide, so a client of many servers stays bounded.
        self.label = target_label(target)
        self.timeout = _positive("timeout", timeout)
        self.total_timeout = _positive("total_timeout", total_timeout)
        if isinstance(retry_budget, bool) or not isinstance(retry_budget, (int, float)):
            raise ConfigError(f"retry_budget must be a ratio, got {retry_budget!r}")
        self.idempotency_keys = bool(idempotency_keys)
        self._clock = clock
        self._rng = rng
        self.budget = RetryBudget(ratio=retry_budget, clock=clock)
        self.breaker = CircuitBreaker(
            target,
            failure_rate=failure_rate,
            min_calls=min_calls,
            cooldown=cooldown,
            record=breaker_failure,
            clock=clock,
        )
        self.bulkhead = Bulkhead(
            target, max_concurrent=max_concurrent, max_queue=max_queue, clock=clock
        )
        self.retry = standard(
            target,
            kind="rpc",
            timeout=self.timeout,
            total_timeout=self.total_timeout,
            attempts=attempts,
            backoff=backoff,
            retry_on=retryable,
            retry_budget=self.budget,
            clock=clock,
            rng=rng,
        ).retry
        for policy in (self.retry, self.breaker, self.bulkhead):
            enroll(policy, self.name, self.label)
        pipeline = Pipeline(self.retry, self.breaker, self.bulkhead)
        self._send: Callable[..., Any] = pipeline(self._attempt)
        self._asend: Callable[..., Awaitable[Any]] = pipeline(self._aattempt)
        self._call: Callable[..., Any] = pipeline(self._direct)

    def policies(self) -> ClientPolicies:
        """This target's retry, breaker and bulkhead, labelled as their metrics are."""
        return ClientPolicies(self.name, self.label, self.retry, self.breaker, self.bulkhead)

    def sender(self, method: str) -> Callable[..., Any]:
        """The retried, guarded sync attempt for ``method`` (composed once per target)."""
        return self._send

    def asender(self, method: str) -> Callable[..., Awaitable[Any]]:
        """The asyncio twin of :meth:`sender`."""
        return self._asend

    def caller(self) -> Callable[..., Any]:
        """The retried, guarded sync attempt of a call made with grpcio's own arguments.

        ``caller()(call, method, request, timeout, metadata, credentials,
        wait_for_ready, compression)`` runs ``call`` (a multi-callable or its
        ``with_call``) as :meth:`sender` runs a continuation, with no call details built
        per call: what :func:`~seawall.grpc.channel` runs for unary calls.
        """
        return self._call

    # -- one attempt ---------------------------------------------------------------------

    def shape(self, details: Any, *, key: bool, aio: bool) -> tuple[Any, bool]:
        """This attempt's details (timeout, metadata) and whether a deadline bounds it.

        The second value is true when the timeout given is the caller's (its ``timeout=``
        or its deadline) rather than the per-attempt cap: a DEADLINE_EXCEEDED then means
        the caller is out of time, and is not retried.
        """
        budget, own = self._timeout(details.timeout)
        metadata = self._metadata(details.metadata, key, _method_name(details.method))
        if aio:
            shaped: Any = grpc.aio.ClientCallDetails(
                details.method,
                budget,
                grpc.aio.Metadata(*metadata),
                details.credentials,
                details.wait_for_ready,
            )
        else:
            shaped = _SyncDetails(
                details.method,
                budget,
                metadata,
                details.credentials,
                details.wait_for_ready,
                getattr(details, "compression", None),
            )
        return shaped, own

    def _timeout(self, given: float | None) -> tuple[float, bool]:
        """This attempt's timeout, and whether it is the caller's own (see :meth:`shape`)."""
        budget = downstream_timeout(self.timeout)
        assert budget is not None  # the cap is never None
        if budget <= 0.0:
            raise DeadlineExceeded("no time left for the RPC")
        own = budget < self.timeout
        if given is not None and given <= budget:
            budget, own = given, True
        return budget, own

    def _metadata(self, given: Any, key: bool, method: str) -> list[tuple[str, Any]]:
        """The attempt's metadata: the caller's, then key, priority, attempt and trace.

        The caller's own idempotency key or priority wins; the attempt number is ours.
        """
        op = _operation.get()
        if given:
            metadata: list[tuple[str, Any]] = []
            sent: dict[str, Any] = {}
            for k, v in given:
                name = k.lower()
                if name in _OURS:
                    sent[name] = v
                else:
                    metadata.append((k, v))
            if key and self.idempotency_keys:
                caller_key = sent.get(IDEMPOTENCY_KEY)
                metadata.append((IDEMPOTENCY_KEY, caller_key or _key_of(op)))
            level = sent.get(PRIORITY_HEADER) or _priority.get()
        else:
            metadata = [(IDEMPOTENCY_KEY, _key_of(op))] if key and self.idempotency_keys else []
            level = _priority.get()
        if level is not None:
            metadata.append((PRIORITY_HEADER, level))
        metadata.append((ATTEMPT_HEADER, "1" if op is None else str(op.attempt)))
        spans = tracing.spans
        if spans is not None:
            spans.client_rpc(metadata, method, self.target)
        return metadata

    def observe(self, method: Any, code: grpc.StatusCode, seconds: float) -> None:
        """Count one attempt of ``method`` that ended with ``code`` in ``rpc.client.duration``."""
        service, name = rpc_labels(_method_name(method))
        RPC_CLIENT.record((self.name, self.label, service, name, code.value[0]), seconds)

    @client_attempt("rpc")
    def _attempt(self, continuation: Callable[..., Any], details: Any, request: Any) -> Any:
        shaped, own = self.shape(details, key=True, aio=False)
        started = time.perf_counter()
        try:
            outcome = continuation(shaped, request)
            outcome.result()  # a failed call's outcome raises its RpcError here
        except grpc.RpcError as exc:
            self.observe(details.method, _code(exc), time.perf_counter() - started)
            remember(exc, parse_pushback(_trailing(exc)), own)
            raise
        self.observe(details.method, grpc.StatusCode.OK, time.perf_counter() - started)
        return outcome

    @client_attempt("rpc")
    def _direct(
        self,
        call: Callable[..., Any],
        method: RpcMethod,
        request: Any,
        timeout: float | None,
        metadata: Any,
        credentials: Any,
        wait_for_ready: bool | None,
        compression: Any,
    ) -> Any:
        budget, own = self._timeout(timeout)
        op = _operation.get()
        if metadata or op is None or not self.idempotency_keys or tracing.spans is not None:
            sent = self._metadata(metadata, True, method.path)
        else:  # the common attempt, inside its retry: only seawall's own metadata to send
            level = _priority.get()
            sent = [(IDEMPOTENCY_KEY, op.key), (ATTEMPT_HEADER, str(op.attempt))]
            if level is not None:
                sent.insert(1, (PRIORITY_HEADER, level))
        started = time.perf_counter()
        try:
            result = call(request, budget, sent, credentials, wait_for_ready, compression)
        except grpc.RpcError as exc:
            RPC_CLIENT.record((*method.labels, _code(exc).value[0]), time.perf_counter() - started)
            remember(exc, parse_pushback(_trailing(exc)), own)
            raise
        RPC_CLIENT.record(method.ok, time.perf_counter() - started)
        return result

    @client_attempt("rpc")
    async def _aattempt(self, continuation: Callable[..., Any], details: Any, request: Any) -> Any:
        shaped, own = self.shape(details, key=True, aio=True)
        started = time.perf_counter()
        call = await continuation(shaped, request)
        try:
            await call
        except grpc.aio.AioRpcError as exc:
            self.observe(details.method, _code(exc), time.perf_counter() - started)
            remember(exc, parse_pushback(exc.trailing_metadata()), own)
            raise
        self.observe(details.method, grpc.StatusCode.OK, time.perf_counter() - started)
        return call


def _code(exc: grpc.RpcError) -> grpc.StatusCode:
    code = getattr(exc, "code", None)
    try:
        found = code() if callable(code) else None
    except Exception:  # an RpcError that is not a finished call has no code
        found = None
    return found if isinstance(found, grpc.StatusCode) else grpc.StatusCode.UNKNOWN


def _trailing(exc: grpc.RpcError) -> Sequence[Any] | None:
    trailing = getattr(exc, "trailing_metadata", None)
    if not callable(trailing):
        return None
    try:
        return trailing()  # type: ignore[no-any-return]
    except Exception:  # an RpcError that is not a finished call has no metadata
        return None
