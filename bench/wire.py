"""The least a phone needs on the wire: one HTTP request, a WebSocket handshake, masked
client frames, and a frame splitter that keeps only the first bytes of each message.

Hand-written so that thousands of phones cost little CPU: a view of several kilobytes is
never decoded, parsed or even copied whole; only its first `HEAD_BYTES` are looked at (the
server writes `type`, `stream`, `seq` and an ack's `id` there).
"""

from __future__ import annotations

import asyncio
import re

HEAD_BYTES = 160
# A fixed key: the server only checks that it answers in the handshake's framing, never
# what it is (the bench does not check the Sec-WebSocket-Accept it gets back either).
WS_KEY = b"cGFsYWJyZS1iZW5jaC0xNg=="  # 16 bytes, as RFC 6455 requires
COOKIE = re.compile(rb"^set-cookie:\s*([^=;\s]+)=([^;\r\n]*)", re.I | re.M)
STREAM = re.compile(rb'"stream":"(\w+)"')
SEQ = re.compile(rb'"seq":(\d+)')
ACK = re.compile(rb'"id":"([^"]*)","ok":(true|false)')
CODE = re.compile(rb'"code":"(\w+)"')

OP_TEXT, OP_CLOSE, OP_PING, OP_PONG = 0x1, 0x8, 0x9, 0xA


async def http_request(
    host: str,
    port: int,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    timeout: float = 60.0,
) -> tuple[int, dict[str, str]]:
    """One request on its own connection; returns the status and the cookies it sets."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
    if body:
        lines += ["Content-Type: application/x-www-form-urlencoded", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    try:
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
    finally:
        writer.close()
    status = int(head.split(b" ", 2)[1])
    cookies = {k.decode(): v.decode() for k, v in COOKIE.findall(head)}
    return status, cookies


def handshake(host: str, port: int, path: str, origin: str, cookie: str) -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {WS_KEY.decode()}\r\n"
        f"Sec-WebSocket-Version: 13\r\nOrigin: {origin}\r\nCookie: {cookie}\r\n\r\n"
    ).encode()


def client_frame(payload: bytes, opcode: int = OP_TEXT) -> bytes:
    """A masked frame. The mask key is zero, so the masked payload is the payload itself:
    legal (RFC 6455 asks for an unpredictable key to protect proxies, none here), and the
    server still does its full unmasking work."""
    n = len(payload)
    if n < 126:
        header = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        header = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    return header + b"\0\0\0\0" + payload


class FrameSplitter:
    """Feeds server frames (unmasked, unfragmented) to `on_message(opcode, head, size)`,
    with `head` at most HEAD_BYTES long; the rest of a payload is skipped, not kept."""

    __slots__ = ("buf", "skip")

    def __init__(self) -> None:
        self.buf = bytearray()
        self.skip = 0

    def feed(self, data: bytes, on_message: object) -> None:
        buf = self.buf
        if self.skip:
            if len(data) <= self.skip:
                self.skip -= len(data)
                return
            data = data[self.skip :]
            self.skip = 0
        buf += data
        pos, end = 0, len(buf)
        while end - pos >= 2:
            opcode, size = buf[pos] & 0x0F, buf[pos + 1] & 0x7F
            start = pos + 2
            if size == 126:
                if end - pos < 4:
                    break
                size, start = int.from_bytes(buf[pos + 2 : pos + 4], "big"), pos + 4
            elif size == 127:
                if end - pos < 10:
                    break
                size, start = int.from_bytes(buf[pos + 2 : pos + 10], "big"), pos + 10
            # Control frames are kept whole (a ping's payload is echoed), data frames cut.
            keep = size if opcode >= OP_CLOSE else min(size, HEAD_BYTES)
            if end - start < keep:
                break
            on_message(opcode, bytes(buf[start : start + keep]), size)  # type: ignore[operator]
            rest = start + size
            if rest > end:
                self.skip = rest - end
                pos = end
                break
            pos = rest
        del buf[:pos]
