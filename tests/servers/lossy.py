"""A relay between the desk and a directory that can lose the answers to changes: a modify,
add, delete or extended request reaches the server (which makes the change) and nothing the
server says after it reaches the desk, as when a connection dies under a write. It reads
just enough of each LDAP message (RFC 4511: SEQUENCE { messageID, protocolOp }) to tell a
change from a read."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

CHANGES = frozenset({0x66, 0x68, 0x6A, 0x77})  # modify, add, delete, extended requests


class LossyRelay:
    """Listens on a loopback port and relays to `upstream`; while `losing` is set, the
    answer to a change (and everything after it on that connection) is dropped."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.losing = False
        self.lost = 0  # how many changes went through without their answers
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"ldap://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _relay(self, desk_in: asyncio.StreamReader, desk_out: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        server_in, server_out = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        cut = asyncio.Event()  # set once a change's answer is to be lost
        try:
            await asyncio.gather(
                self._requests(desk_in, server_out, cut), self._answers(server_in, desk_out, cut)
            )
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._tasks.discard(task)
            for writer in (server_out, desk_out):
                writer.close()
                with contextlib.suppress(ConnectionError):
                    await writer.wait_closed()

    async def _requests(
        self, desk: asyncio.StreamReader, server: asyncio.StreamWriter, cut: asyncio.Event
    ) -> None:
        async for message in _messages(desk):
            if self.losing and _operation(message) in CHANGES and not cut.is_set():
                cut.set()
                self.lost += 1
            server.write(message)
            await server.drain()
        server.close()  # the desk hung up: so does the relay, and the server's side ends

    async def _answers(
        self, server: asyncio.StreamReader, desk: asyncio.StreamWriter, cut: asyncio.Event
    ) -> None:
        while chunk := await server.read(65536):
            if not cut.is_set():
                desk.write(chunk)
                await desk.drain()


async def _messages(stream: asyncio.StreamReader) -> AsyncIterator[bytes]:
    """Whole BER-encoded LDAP messages, as they come."""
    while True:
        try:
            head = await stream.readexactly(2)
        except asyncio.IncompleteReadError:
            return
        length, extra = head[1], b""
        if length & 0x80:
            extra = await stream.readexactly(length & 0x7F)
            length = int.from_bytes(extra, "big")
        yield head + extra + await stream.readexactly(length)


def _operation(message: bytes) -> int:
    """The protocolOp tag of one message: after its length and its messageID."""
    at = 2 + (message[1] & 0x7F if message[1] & 0x80 else 0)
    id_length = message[at + 1]
    return message[at + 2 + id_length]
