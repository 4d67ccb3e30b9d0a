"""One node of the test service: a grpcio server (sync or aio) behind seawall's edges.

``python node.py NAME [--downstream HOST:PORT] [--aio]`` binds 127.0.0.1 on a free port,
prints it, and serves through ``seawall.grpc.serve`` (so SIGTERM shuts it down gracefully).
The service is one generic unary method, ``/seawall.test.Node/Call``, with JSON bytes in
and out (no generated code). The request's ``ops`` say what each node does, by name:

``relay``           call the downstream node with the same request; report its answer or error
``echo``            report the budget seen
``hang``            wait (at most 5 s) until the caller gives up
``flaky:N``         answer UNAVAILABLE to the first N attempts of the request's ``tag``
``pushback:MS:N``   answer RESOURCE_EXHAUSTED with ``grpc-retry-pushback-ms: MS`` N times
``slow:S``          take S seconds, then answer
``seen``            report every attempt recorded for ``tag``
``down``            answer UNAVAILABLE, always
``guard``           record the attempt, call the downstream node; if that fails, end the
                    call UNAVAILABLE itself (a handler rendering its own error)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import threading
import time
from collections import defaultdict
from concurrent import futures
from typing import Any

import grpc
import grpc.aio

import seawall
import seawall.grpc

METHOD = "/seawall.test.Node/Call"
SERVICE = "seawall.test.Node"

_lock = threading.Lock()
_seen: dict[str, list[dict[str, Any]]] = defaultdict(list)


def _record(tag: str, context: Any) -> int:
    metadata = dict(context.invocation_metadata())
    entry = {
        "key": metadata.get("idempotency-key"),
        "attempt": metadata.get("x-request-attempt"),
        "priority": metadata.get("x-request-priority"),
        "at": time.monotonic(),
    }
    with _lock:
        _seen[tag].append(entry)
        return len(_seen[tag])


def _report(name: str, context: Any, arrived: float | None, **extra: Any) -> bytes:
    body = {
        "node": name,
        "time_remaining": arrived,
        "remaining": seawall.remaining(),
        "priority": seawall.current_priority(),
        **extra,
    }
    return json.dumps(body).encode()


def _pushback(context: Any, ms: str) -> tuple[grpc.StatusCode, str]:
    context.set_trailing_metadata(((seawall.grpc.PUSHBACK_KEY, ms),))
    return grpc.StatusCode.RESOURCE_EXHAUSTED, "busy"


def _decide(name: str, op: str, tag: str, context: Any) -> tuple[str, Any]:
    """What to do: ("answer", extra) | ("fail", (code, message)) | ("sleep", (s, extra))."""
    count = _record(tag, context)
    kind, _, arg = op.partition(":")
    if kind == "flaky" and count <= int(arg):
        return "fail", (grpc.StatusCode.UNAVAILABLE, "flaky")
    if kind == "pushback":
        ms, _, times = arg.partition(":")
        if count <= int(times):
            return "fail", _pushback(context, ms)
    if kind == "down":
        return "fail", (grpc.StatusCode.UNAVAILABLE, "down")
    if kind == "hang":
        return "sleep", (5.0, {})
    if kind == "slow":
        return "sleep", (float(arg), {})
    if kind in ("flaky", "pushback", "seen"):
        with _lock:
            return "answer", {"seen": list(_seen[tag])}
    return "answer", {}


def _down_error(exc: BaseException) -> str:
    code = getattr(exc, "code", None)
    return code().name if callable(code) else type(exc).__name__


def sync_handler(name: str, downstream: grpc.Channel | None) -> Any:
    call = None if downstream is None else downstream.unary_unary(METHOD)

    def handle(request: bytes, context: grpc.ServicerContext) -> bytes:
        arrived = context.time_remaining()  # the budget as the call arrived
        body = json.loads(request)
        op = body["ops"].get(name, "echo")
        tag = body.get("tag", "")
        if op == "relay":
            assert call is not None
            try:
                return _report(name, context, arrived, down=json.loads(call(request)))
            except (grpc.RpcError, seawall.SeawallError) as exc:
                return _report(name, context, arrived, down_error=_down_error(exc))
        if op == "guard":
            assert call is not None
            _record(tag, context)
            try:
                return _report(name, context, arrived, down=json.loads(call(request)))
            except (grpc.RpcError, seawall.SeawallError) as exc:
                context.abort(grpc.StatusCode.UNAVAILABLE, _down_error(exc))
        action, arg = _decide(name, op, tag, context)
        if action == "fail":
            context.abort(*arg)
        if action == "sleep":
            seconds, extra = arg
            end = time.monotonic() + seconds
            while context.is_active() and time.monotonic() < end:
                time.sleep(0.005)
            return _report(name, context, arrived, **extra)
        return _report(name, context, arrived, **arg)

    return handle


def aio_handler(name: str, downstream: grpc.aio.Channel | None) -> Any:
    call = None if downstream is None else downstream.unary_unary(METHOD)

    async def handle(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
        arrived = context.time_remaining()  # the budget as the call arrived
        body = json.loads(request)
        op = body["ops"].get(name, "echo")
        tag = body.get("tag", "")
        if op == "relay":
            assert call is not None
            try:
                return _report(name, context, arrived, down=json.loads(await call(request)))
            except (grpc.RpcError, seawall.SeawallError) as exc:
                return _report(name, context, arrived, down_error=_down_error(exc))
        if op == "guard":
            assert call is not None
            _record(tag, context)
            try:
                return _report(name, context, arrived, down=json.loads(await call(request)))
            except (grpc.RpcError, seawall.SeawallError) as exc:
                # grpc.aio's abort() sends the status at once; setting the code and
                # returning lets the server edge add its "do not retry" to it.
                context.set_code(grpc.StatusCode.UNAVAILABLE)
                context.set_details(_down_error(exc))
                return b""
        action, arg = _decide(name, op, tag, context)
        if action == "fail":
            await context.abort(*arg)
        if action == "sleep":
            seconds, extra = arg
            end = time.monotonic() + seconds
            while not context.done() and time.monotonic() < end:  # noqa: ASYNC110
                await asyncio.sleep(0.005)  # polls the call's own cancellation
            return _report(name, context, arrived, **extra)
        return _report(name, context, arrived, **arg)

    return handle


def _generic(handle: Any) -> grpc.GenericRpcHandler:
    return grpc.method_handlers_generic_handler(
        SERVICE, {"Call": grpc.unary_unary_rpc_method_handler(handle)}
    )


CLIENT = {
    "timeout": 5.0,
    "total_timeout": 5.0,
    "backoff": seawall.Backoff.exponential(initial=0.05),
}


def run_sync(args: argparse.Namespace) -> None:
    downstream = (
        None if args.downstream is None else seawall.grpc.channel(args.downstream, **CLIENT)
    )
    shedder = seawall.LoadShedder(args.name, limit=4, max_queue=0)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=16),
        interceptors=[seawall.grpc.server_interceptor(shedder=shedder, max_timeout=10.0)],
        options=seawall.grpc.NO_RETRIES,
    )
    server.add_generic_rpc_handlers((_generic(sync_handler(args.name, downstream)),))
    health = seawall.grpc.add_health(server, [SERVICE])
    port = server.add_insecure_port("127.0.0.1:0")
    print(port, flush=True)
    seawall.grpc.serve(server, health=health, grace=args.grace, drain_delay=args.drain_delay)


async def run_aio(args: argparse.Namespace) -> None:
    downstream = (
        None if args.downstream is None else seawall.grpc.aio_channel(args.downstream, **CLIENT)
    )
    shedder = seawall.LoadShedder(args.name, limit=4, max_queue=0)
    server = grpc.aio.server(
        interceptors=[seawall.grpc.aio_server_interceptor(shedder=shedder, max_timeout=10.0)],
        options=seawall.grpc.NO_RETRIES,
    )
    server.add_generic_rpc_handlers((_generic(aio_handler(args.name, downstream)),))
    health = await seawall.grpc.aio_add_health(server, [SERVICE])
    port = server.add_insecure_port("127.0.0.1:0")
    print(port, flush=True)
    await seawall.grpc.aio_serve(
        server, health=health, grace=args.grace, drain_delay=args.drain_delay
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("name")
    parser.add_argument("--downstream")
    parser.add_argument("--aio", action="store_true")
    parser.add_argument("--grace", type=float, default=3.0)
    parser.add_argument("--drain-delay", type=float, default=0.0)
    args = parser.parse_args()
    if args.aio:
        asyncio.run(run_aio(args))
    else:
        run_sync(args)
    sys.exit(0)


if __name__ == "__main__":
    main()
