"""The WebSocket endpoint: Origin check before accept, identity from the cookie, and
per-message authorisation, parsing and rate limiting."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from .activity import N_
from .auth import Identity
from .hub import AUDIENCES, Connection, encode
from .service import Service

log = logging.getLogger("palabre.live")
# Token bucket per phone, shared by its sockets (reconnecting does not refill it): a burst of
# taps is fine, a script flooding is slowed, then each of its sockets is cut off.
RATE_PER_SECOND = 20.0
BURST = 40.0
STRIKES_BEFORE_CLOSE = 50


class Allowance:
    def __init__(self) -> None:
        self.tokens = BURST
        self.stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(BURST, self.tokens + (now - self.stamp) * RATE_PER_SECOND)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class RateLimit:
    """One socket's use of its phone's allowance; refusals (strikes) count per socket."""

    def __init__(self, allowance: Allowance) -> None:
        self.allowance = allowance
        self.strikes = 0

    def allow(self) -> bool:
        if self.allowance.take():
            return True
        self.strikes += 1
        return False


class LiveEndpoint:
    def __init__(self, service: Service, origins: frozenset[str], identify: Any) -> None:
        self.service = service
        self.origins = origins
        self.identify = identify  # (websocket, role) -> Identity | None
        self.allowances: dict[str, Allowance] = {}  # participant id (or role) -> its bucket

    async def endpoint(self, websocket: WebSocket) -> None:
        origin = (websocket.headers.get("origin") or "").lower()
        if origin not in self.origins:
            # Closing before accept makes the server answer the handshake with HTTP 403.
            await websocket.close(code=1008)
            return
        identity = self._identity(websocket)
        if identity is None:
            await websocket.close(code=1008)
            return
        await websocket.accept()
        lang = self.identify.lang_for(websocket)
        audience = "participant" if identity.role == "juror" else identity.role
        conn = Connection(
            websocket,
            audience,
            lang,
            identity.participant_id,
            preview=websocket.query_params.get("preview") == "1",
        )
        await self._serve(conn, identity)

    def _identity(self, websocket: WebSocket) -> Identity | None:
        role = websocket.query_params.get("as", "")
        if role not in AUDIENCES:
            return None
        identity: Identity | None = self.identify.identity(websocket, role)
        if identity is None and role == "screen":
            facilitator = self.identify.identity(websocket, "facilitator")
            if facilitator is not None:
                identity = Identity(facilitator.workshop_id, "screen")
        return identity

    async def _serve(self, conn: Connection, identity: Identity) -> None:
        hub = self.service.hub
        for oldest in hub.add(conn):
            asyncio.ensure_future(oldest.websocket.close(code=1008, reason="too many sockets"))
        self.service.touch({"facilitator"})
        hub.send_fresh(conn)
        sender = asyncio.create_task(conn.run_sender())
        key = identity.participant_id or identity.role
        limit = RateLimit(self.allowances.setdefault(key, Allowance()))
        try:
            while True:
                frame = await conn.websocket.receive()
                if frame["type"] == "websocket.disconnect":
                    break
                # The facilitator is trusted and may click fast; phones are throttled.
                if identity.role != "facilitator" and not limit.allow():
                    if limit.strikes >= STRIKES_BEFORE_CLOSE:
                        # A flood arrives many frames per read, faster than the sender runs:
                        # send the refusals still queued (they say why) before the close.
                        sender.cancel()
                        await asyncio.gather(sender, return_exceptions=True)
                        await conn.send_replies()
                        await conn.websocket.close(code=1008, reason="too many messages")
                        break
                    reply = self._error(
                        conn, "slow_down", N_("Too many messages; please slow down.")
                    )
                    conn.push_reply(_as_ack(frame.get("text"), reply))
                    continue
                text = frame.get("text")
                if text is None:  # a binary frame: our clients only send JSON text
                    conn.push_reply(
                        self._error(conn, "bad_message", N_("Messages must be JSON text."))
                    )
                    continue
                self._dispatch(conn, identity, text)
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            hub.remove(conn)
            sender.cancel()
            self.service.touch({"facilitator"})

    def _dispatch(self, conn: Connection, identity: Identity, text: str) -> None:
        message = _parse(text)
        if message is None:
            conn.push_reply(
                self._error(conn, "bad_message", N_("Messages must be JSON objects with a type."))
            )
            return
        kind = message["type"]
        if kind == "ping":
            # The server's clock lets countdowns on phones and screens agree with it.
            conn.push_reply(encode({"type": "pong", "now": round(self.service.clock() * 1000)}))
        elif kind == "resync":
            self.service.hub.send_fresh(conn)
        elif kind == "act":
            if not _valid_act(message):
                reply = self._error(
                    conn, "bad_message", N_("An act needs an id, an action and data.")
                )
                conn.push_reply(_as_ack(text, reply))
                return
            self.service.submit(conn, identity, message)
        else:
            conn.push_reply(self._error(conn, "unknown_type", N_("Unknown message type.")))

    def _error(self, conn: Connection, code: str, message: str) -> str:
        text = self.service.renderer.gettext(conn.lang, message)
        return encode({"type": "error", "error": {"code": code, "message": text}})


def _parse(text: str) -> dict[str, Any] | None:
    try:
        message = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        return None
    return message


def _valid_act(message: dict[str, Any]) -> bool:
    step = message.get("step")
    return (
        _short_text(message.get("id"))
        and _short_text(message.get("action"))
        and (step is None or _short_text(step))
        and isinstance(message.get("data", {}), dict)
    )


def _as_ack(text: str | None, reply: str) -> str:
    """A refusal of an `act` goes back as its ack: the sender is waiting for that id (and may
    resend it later: a refused id is not remembered)."""
    message = _parse(text) if text else None
    if message is None or message.get("type") != "act" or not _short_text(message.get("id")):
        return reply
    return refused_ack(message["id"], json.loads(reply)["error"])


def refused_ack(action_id: Any, error: dict[str, Any]) -> str:
    """The ack of an act refused before it reached the workshop (malformed, too fast)."""
    return encode({"type": "ack", "id": action_id, "ok": False, "error": error})


def _short_text(value: Any) -> bool:
    # Ids are stored in SQLite: a lone surrogate would pass json.loads and fail the insert.
    if not isinstance(value, str) or not 0 < len(value) <= 64:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
