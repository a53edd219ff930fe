"""Live connections and fan-out: each changed view is rendered once and the same bytes go
to every socket of its audience, through a latest-wins outbox per connection."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from starlette.websockets import WebSocket

from .views import Views
from .workshop import Changes

log = logging.getLogger("palabre.hub")
MAX_QUEUED_ACKS = 256
# Sockets one phone may hold at once. A phone on flaky Wi-Fi leaves dead sockets behind until
# their pings time out, and a script could open thousands with one cookie: past this many,
# the oldest is closed (the newest is the one a person is looking at).
MAX_SOCKETS_PER_PARTICIPANT = 32


def encode(message: dict[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"))


@dataclass(eq=False)
class Connection:
    websocket: WebSocket
    audience: str
    lang: str
    participant_id: str | None = None
    preview: bool = False  # the facilitator's small preview of the screen: not a real screen
    # stream name -> newest message: a slow socket gets the latest view, never a backlog.
    views: dict[str, str] = field(default_factory=dict)
    replies: deque[str] = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    closed: bool = False

    def push_view(self, stream: str, message: str) -> None:
        self.views[stream] = message
        self.wake.set()

    def push_reply(self, message: str) -> bool:
        """Acks and errors are never dropped; a client that lets them pile up is cut off."""
        if len(self.replies) >= MAX_QUEUED_ACKS:
            return False
        self.replies.append(message)
        self.wake.set()
        return True

    async def send_replies(self) -> None:
        # Removed only once sent: a sender cancelled while waiting to write loses nothing.
        while self.replies:
            await self.websocket.send_text(self.replies[0])
            self.replies.popleft()

    async def run_sender(self) -> None:
        while not self.closed:
            await self.wake.wait()
            self.wake.clear()
            await self.send_replies()
            views, self.views = self.views, {}
            for message in views.values():
                await self.websocket.send_text(message)


class Hub:
    def __init__(self, views: Views) -> None:
        self.views = views
        self.connections: set[Connection] = set()
        # participant -> their sockets, oldest first (a dict keeps insertion order)
        self.by_participant: dict[str, dict[Connection, None]] = defaultdict(dict)
        self.shared_seq = 0
        self.personal_seq: dict[str, int] = defaultdict(int)
        self.renders = 0  # counted, so tests can check each view is rendered once per tick
        # Newest shared message per (audience, lang), reused for every new socket until the
        # next change: a join storm costs one render, not one per phone.
        self._shared_cache: dict[tuple[str, str], str] = {}

    # -- membership ------------------------------------------------------------------
    def add(self, conn: Connection) -> list[Connection]:
        """Registers a socket; returns the participant's oldest sockets it pushes over the
        limit, for the caller to close."""
        self.connections.add(conn)
        evicted: list[Connection] = []
        if conn.participant_id:
            group = self.by_participant[conn.participant_id]
            group[conn] = None
            while len(group) > MAX_SOCKETS_PER_PARTICIPANT:
                oldest = next(iter(group))
                self.remove(oldest)
                evicted.append(oldest)
        self._count_participants()
        return evicted

    def remove(self, conn: Connection) -> None:
        conn.closed = True
        conn.wake.set()
        self.connections.discard(conn)
        if conn.participant_id:
            group = self.by_participant.get(conn.participant_id)
            if group is not None:
                group.pop(conn, None)
                if not group:
                    del self.by_participant[conn.participant_id]
        self._count_participants()

    def _count_participants(self) -> None:
        self.views.connected = len(self.by_participant)
        self.views.screens = sum(
            1 for c in self.connections if c.audience == "screen" and not c.preview
        )

    # -- fan-out -----------------------------------------------------------------------
    def send_fresh(self, conn: Connection) -> None:
        """A full fresh view of every stream: after a connect, a reconnect, or a resync."""
        conn.push_view("shared", self._shared_message(conn.audience, conn.lang))
        if conn.participant_id:
            self._push_personal(conn.participant_id, [conn])

    def flush(self, changes: Changes, audiences: set[str] | None = None) -> None:
        if changes.shared or audiences:
            self._flush_shared(None if changes.shared else audiences)
        if changes.all_participants:
            targets = list(self.by_participant)
        else:
            targets = [p for p in changes.participants if p in self.by_participant]
        for participant_id in targets:
            self._push_personal(participant_id, self.by_participant[participant_id])

    def _flush_shared(self, only: set[str] | None) -> None:
        self.shared_seq += 1
        for key in list(self._shared_cache):
            if only is None or key[0] in only:
                del self._shared_cache[key]
        for conn in self.connections:
            if only is None or conn.audience in only:
                conn.push_view("shared", self._shared_message(conn.audience, conn.lang))

    def _shared_message(self, audience: str, lang: str) -> str:
        key = (audience, lang)
        message = self._shared_cache.get(key)
        if message is None:
            regions = self.views.shared(audience, lang)
            self.renders += 1
            message = self._view_message("shared", self.shared_seq, regions)
            self._shared_cache[key] = message
        return message

    def _push_personal(self, participant_id: str, conns: Iterable[Connection]) -> None:
        self.personal_seq[participant_id] += 1
        seq = self.personal_seq[participant_id]
        by_lang: dict[str, str] = {}
        for conn in conns:
            if conn.lang not in by_lang:
                regions = self.views.personal(participant_id, conn.lang)
                by_lang[conn.lang] = self._view_message("personal", seq, regions)
            conn.push_view("personal", by_lang[conn.lang])

    @staticmethod
    def _view_message(stream: str, seq: int, regions: dict[str, str]) -> str:
        return encode({"type": "view", "stream": stream, "seq": seq, "regions": regions})
