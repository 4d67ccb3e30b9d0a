"""SIGTERM on a grpcio server run by ``seawall.grpc.serve`` / ``aio_serve``.

The probe rules: health says NOT_SERVING at once, the server keeps serving through the
drain delay, calls in flight finish, and the process exits within its grace period.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

import seawall
import seawall.grpc
from tests.integration.grpc.conftest import start_node

pytestmark = pytest.mark.integration

METHOD = "/seawall.test.Node/Call"
DRAIN = 0.5
GRACE = 3.0


def _status(stub: Any) -> int:
    request = health_pb2.HealthCheckRequest(service="")
    return int(stub.Check(request, timeout=1.0).status)


@pytest.mark.parametrize("flavour", ["sync", "aio"])
def test_sigterm_flips_health_and_lets_in_flight_calls_finish(flavour: str) -> None:
    extra = ["--aio"] if flavour == "aio" else []
    node = start_node("D", *extra, "--drain-delay", str(DRAIN), "--grace", str(GRACE))
    try:
        with grpc.insecure_channel(node.target, options=seawall.grpc.NO_RETRIES) as raw:
            health = health_pb2_grpc.HealthStub(raw)
            assert _status(health) == health_pb2.HealthCheckResponse.SERVING

            result: dict[str, Any] = {}

            def slow_call() -> None:
                with seawall.grpc.channel(node.target, timeout=5.0, total_timeout=5.0) as ch:
                    request = json.dumps({"ops": {"D": "slow:1.0"}}).encode()
                    try:
                        result["answer"] = json.loads(ch.unary_unary(METHOD)(request))
                    except grpc.RpcError as exc:
                        result["error"] = exc.code()

            caller = threading.Thread(target=slow_call)
            caller.start()
            time.sleep(0.3)  # the slow call is in flight
            node.process.send_signal(signal.SIGTERM)
            sent = time.monotonic()
            while _status(health) != health_pb2.HealthCheckResponse.NOT_SERVING:
                assert time.monotonic() - sent < 1.0, "health never said NOT_SERVING"
                time.sleep(0.005)
            flipped = time.monotonic() - sent
            caller.join(5.0)
        code = node.process.wait(DRAIN + GRACE + 2.0)
        exited = time.monotonic() - sent
    finally:
        node.stop()
    # at once: well inside the drain delay, while the server still serves (a loaded
    # 2-core machine delays the signal handler and the probe by tens of ms, no more)
    assert flipped < DRAIN / 2
    assert result.get("answer", {}).get("node") == "D", result
    assert code == 0
    assert exited < DRAIN + GRACE
