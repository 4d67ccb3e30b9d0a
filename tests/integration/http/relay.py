"""A real TCP relay that loses responses the way networks do: after the server acted.

Between client and server on 127.0.0.1. For each HTTP/1.1 request it forwards the
request, waits for the server's whole response, and then — for a seeded ``ratio`` of
requests — resets the client's connection (SO_LINGER 0, so close sends RST) instead of
forwarding it. The server has processed the request; the client sees a connection
reset and cannot know whether it did. That is the case Idempotency-Key exists for.
"""

from __future__ import annotations

import contextlib
import random
import socket
import struct
import threading
from typing import BinaryIO

_LINGER_RST = struct.pack("ii", 1, 0)


class ResettingRelay:
    """``with ResettingRelay(port, ratio=0.3, seed=7) as url:`` relays url -> server."""

    def __init__(self, upstream_port: int, *, ratio: float = 0.3, seed: int = 0) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.ratio = ratio
        self.requests = 0
        self.resets = 0
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        # Closing a socket does not wake a thread blocked in accept(): poll a stop flag.
        self._listener.settimeout(0.05)
        self._stopping = threading.Event()
        self._sockets: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> str:
        self._acceptor.start()
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._acceptor.join(timeout=5)
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(timeout=5)

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            thread = threading.Thread(target=self._relay, args=(client,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _relay(self, client: socket.socket) -> None:
        upstream = socket.create_connection(self.upstream, timeout=10)
        client.settimeout(10)
        for sock in (client, upstream):
            # Whole messages are written at once: Nagle would only add delayed-ACK stalls.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._sockets.update((client, upstream))
        from_client = client.makefile("rb")
        from_server = upstream.makefile("rb")
        try:
            while True:
                request = read_message(from_client)
                if request is None:
                    return
                upstream.sendall(request)
                response = read_message(from_server)
                if response is None:
                    return
                with self._lock:
                    self.requests += 1
                    reset = self._rng.random() < self.ratio
                    self.resets += reset
                if reset:
                    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
                    return
                client.sendall(response)
        except OSError:
            return
        finally:
            from_client.close()
            from_server.close()
            with self._lock:
                self._sockets.difference_update((client, upstream))
            client.close()
            upstream.close()


def read_message(stream: BinaryIO) -> bytes | None:
    """One whole HTTP/1.1 message (head and body) as raw bytes; None at end of stream."""
    head = stream.readline(65537)
    if not head:
        return None
    length: int | None = None
    chunked = False
    raw = [head]
    while True:
        line = stream.readline(65537)
        if not line:
            return None
        raw.append(line)
        if line in (b"\r\n", b"\n"):
            break
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value.strip())
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size_line = stream.readline(65537)
            raw.append(size_line)
            size = int(size_line.split(b";")[0].strip(), 16)
            if size == 0:
                while True:  # trailers, then the empty line
                    trailer = stream.readline(65537)
                    raw.append(trailer)
                    if trailer in (b"\r\n", b"\n", b""):
                        break
                break
            raw.append(stream.read(size + 2))
    elif length:
        raw.append(stream.read(length))
    return b"".join(raw)
