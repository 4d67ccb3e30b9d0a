"""Real grpcio servers for the gRPC edge: node processes on 127.0.0.1, started here."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.conftest import need

NODE = Path(__file__).with_name("node.py")
ROOT = Path(__file__).resolve().parents[3]


@dataclass
class Node:
    name: str
    process: subprocess.Popen[str]
    port: int

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self, timeout: float = 10.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(5)
        finally:
            if self.process.stdout is not None:
                self.process.stdout.close()


def start_node(name: str, *args: str) -> Node:
    """Start ``node.py NAME ARGS`` and wait for the port it prints."""
    try:
        import grpc  # noqa: F401
        import grpc_health  # noqa: F401
    except ImportError:
        need(False, "grpcio is not installed (pip install 'seawall[grpc]')")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, str(NODE), name, *args],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert process.stdout is not None
    line = process.stdout.readline()  # the node prints its port once bound
    if not line.strip().isdigit():
        process.kill()
        process.wait(5)
        process.stdout.close()
        need(False, f"gRPC node {name} did not start (printed {line!r})")
    return Node(name, process, int(line))


@dataclass
class Chain:
    a: Node
    b: Node
    c: Node


@pytest.fixture(scope="session")
def chain() -> Iterator[Chain]:
    """A (sync) -> B (grpc.aio) -> C (sync): three processes, each behind seawall's edges."""
    c = start_node("C")
    b = start_node("B", "--aio", "--downstream", c.target)
    a = start_node("A", "--downstream", b.target)
    yield Chain(a, b, c)
    for node in (a, b, c):
        node.stop()
