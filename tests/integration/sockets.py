"""Raw sockets on 127.0.0.1 that fail the way real downstreams do.

* :func:`refused_port`: a port bound but never listening, so every connection is refused.
* :class:`FaultServer` ``("hang")``: accepts, reads the request, never answers (a hung
  process); ``("drop")``: accepts, reads the request, closes without answering (a crash).

Each connection's request head is kept, so a test can count attempts and read the
headers a client sent.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal


@contextmanager
def refused_port() -> Iterator[int]:
    """A loopback port that refuses connections for as long as the block runs."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


class FaultServer:
    """A listening socket that hangs or drops every connection; a context manager."""

    def __init__(self, mode: Literal["hang", "drop"]) -> None:
        self.mode = mode
        self.requests: list[bytes] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        self._accepting = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def headers(self, n: int) -> dict[str, str]:
        """The header fields of the ``n``-th request seen (0-based), names in lower case."""
        lines = self.requests[n].decode("latin-1").split("\r\n")[1:]
        fields = (line.split(":", 1) for line in lines if ":" in line)
        return {name.strip().lower(): value.strip() for name, value in fields}

    def __enter__(self) -> FaultServer:
        self._accepting.start()
        return self

    def __exit__(self, *exc: object) -> None:
        # shutdown(), not close(), is what wakes a thread blocked in accept() or recv().
        for sock in (self._listener, *self._open):
            with contextlib.suppress(OSError):  # already closed, or never connected
                sock.shutdown(socket.SHUT_RDWR)
        self._accepting.join(timeout=5)
        self._listener.close()
        with self._lock:
            for conn in self._open:
                conn.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:  # the listener was closed: stop
                return
            with self._lock:
                self._open.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        head = b""
        try:
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                head += chunk
            with self._lock:
                self.requests.append(head)
            if self.mode == "drop":
                conn.close()
                return
            while conn.recv(65536):  # hang: read until the client gives up and closes
                pass
        except OSError:
            pass
        finally:
            conn.close()
