"""Real servers for the idempotency tests: uvicorn in a thread, uvicorn as a process.

Both listen on 127.0.0.1 with an OS-chosen port and are stopped by whoever started them.
"""

from __future__ import annotations

import asyncio
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]


class ServerThread:
    """uvicorn on 127.0.0.1 in a thread with its own event loop.

    ``cleanup`` coroutines run in that loop after the server stopped, so clients bound to
    it (redis.asyncio) are closed where they live.
    """

    def __init__(self, app: Any, *cleanup: Callable[[], Awaitable[None]]) -> None:
        import uvicorn

        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.cleanup = cleanup
        self.thread = threading.Thread(target=asyncio.run, args=(self._main(),), daemon=True)

    async def _main(self) -> None:
        try:
            await self.server.serve()
        finally:
            for close in self.cleanup:
                await close()

    @property
    def port(self) -> int:
        return int(self.server.servers[0].sockets[0].getsockname()[1])

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


class ServerProcess:
    """``python -m tests.integration.http.charges ...`` as a real process: restart it, kill it."""

    def __init__(self, *args: str) -> None:
        self.args = args
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> str:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.http.charges", *self.args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], 15)
        line = self.proc.stdout.readline().decode() if ready else ""
        if not line.startswith("LISTENING "):
            self.kill()
            raise RuntimeError(f"charge server did not start: {line!r}")
        return f"http://127.0.0.1:{int(line.split()[1])}"

    def stop(self) -> None:
        """SIGTERM: uvicorn's graceful shutdown."""
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL: a crash, in the middle of whatever it was doing."""
        self._end(signal.SIGKILL)

    def _end(self, sig: int) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        self.proc = None
