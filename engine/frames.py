"""Pre-framed WebSocket writes: one view is framed once and the same bytes are written to
thousands of sockets, without going through the ASGI send path for each.

Why: through Starlette and uvicorn, each send re-encodes the text, frames it and awaits;
at 5,000 phones that is most of the cost of a view (docs/performance.md). The protocol below
is uvicorn's own websockets-sansio protocol with two additions: it makes itself reachable
from the ASGI scope, and it reports "writable" only when its send buffer is empty, so a view
that has to wait is replaced by a newer one rather than queued behind it (hub.py).
It relies on that protocol's attributes (`conn`, `transport`, `writable`, `close_sent`,
`disconnected`); without it (another server, tests), the hub falls back to `send_text`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State

SCOPE_KEY = "palabre.frames"
QUEUED_BEFORE_PAUSE = 16  # messages read ahead of the app before reading pauses


def text_frame(payload: bytes) -> bytes:
    """A server-to-client text frame (unmasked, no extension: compression is off)."""
    return Frame(Opcode.TEXT, payload).serialize(mask=False)


class FramedProtocol(WebSocketsSansIOProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        # Pause as soon as anything waits in our buffer, resume once it is empty: `writable`
        # then means "a write now goes straight to the kernel" (whose share is capped by
        # TCP_NOTSENT_LOWAT, server.py).
        self.transport.set_write_buffer_limits(high=0)

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None:  # absent when the handshake itself was refused
            scope[SCOPE_KEY] = self

    def send_receive_event_to_app(self) -> None:
        # uvicorn stops reading after every message until the app has taken it: two epoll
        # changes per vote. Reading goes on while a few messages wait; past that, it pauses
        # as before (the endpoint's rate limit bounds a phone anyway).
        if self.read_paused or self.queue.qsize() >= QUEUED_BEFORE_PAUSE:
            super().send_receive_event_to_app()
            return
        self.read_paused = True  # so that the parent does not pause reading
        try:
            super().send_receive_event_to_app()
        finally:
            self.read_paused = False

    def open(self) -> bool:
        return (
            not self.close_sent
            and not self.disconnected
            and self.conn.state is State.OPEN
            and not self.transport.is_closing()
        )

    def can_write_now(self) -> bool:
        return self.writable.is_set() and self.open()

    async def write_frame(self, frame: bytes) -> bool:
        """Waits for an empty buffer, then writes; False once the socket is closing."""
        await self.writable.wait()
        if not self.open():
            return False
        self.transport.write(frame)
        return True

    def write_frame_now(self, frame: bytes) -> None:
        self.transport.write(frame)
