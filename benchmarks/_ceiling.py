"""A no-op HTTP server: what the load generator can drive on this machine.

It answers every request of a kept-alive connection with a fixed 200, looking at nothing
but the blank line that ends a request head, so a run against it is limited by the load
generator and the kernel, not by any server. ``http_overhead.py`` measures this ceiling
first and refuses to report a server ratio when the app under test comes near it: a
ratio between two rates that both sit at the generator's ceiling says nothing about the
servers.

Run: ``python -m benchmarks._ceiling PORT``.
"""

from __future__ import annotations

import asyncio
import sys

RESPONSE = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok"
_END = b"\r\n\r\n"


class _Answer(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.pending = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        # GET requests without a body: one blank line per request; a split head waits.
        self.pending += data
        count = self.pending.count(_END)
        if count and self.transport is not None:
            self.pending = self.pending[self.pending.rfind(_END) + len(_END) :]
            self.transport.write(RESPONSE * count)


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Answer, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1])))
