"""The client and server examples of docs/grpc.md run as written, against each other."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import grpc
import pytest

pytestmark = pytest.mark.integration

DOC = Path(__file__).resolve().parents[3] / "docs" / "grpc.md"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_documented_client_talks_to_the_documented_server(tmp_path: Path) -> None:
    client, server = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.DOTALL)
    port = str(_free_port())
    server_py = tmp_path / "server.py"
    server_py.write_text(
        server.replace("50051", port).replace("drain_delay=5.0", "drain_delay=0.1")
    )
    client_py = tmp_path / "client.py"
    client_py.write_text(client.replace("50051", port))
    process = subprocess.Popen([sys.executable, str(server_py)])
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as probe:
            grpc.channel_ready_future(probe).result(timeout=10)
        done = subprocess.run(
            [sys.executable, str(client_py)], capture_output=True, text=True, timeout=20
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "b'hello world'"
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(10)
    assert code == 0
