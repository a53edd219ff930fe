"""Live connections and fan-out: each changed view is rendered once, framed once, and the same
bytes go to every socket of its audience.

A socket that is keeping up gets the bytes written at once, from the tick; a socket that is
behind gets them in its latest-wins outbox, where a newer view replaces an older one, and a
sender task writes them when the socket can take them. Each audience's shared view is sent
at its own cadence (`Pacer`): the facilitator's actions go to everyone at once; what
participants do (votes, ideas, joins) reaches the projector every tick and thousands of
phones a little less often, so that fan-out never eats the loop (docs/performance.md).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Generic, Protocol, TypeVar

from starlette.websockets import WebSocket

from .frames import SCOPE_KEY, FramedProtocol, text_frame
from .views import Views
from .workshop import Changes

log = logging.getLogger("palabre.hub")
MAX_QUEUED_ACKS = 256
# Sockets one phone may hold at once. A phone on flaky Wi-Fi leaves dead sockets behind until
# their pings time out, and a script could open thousands with one cookie: past this many,
# the oldest is closed (the newest is the one a person is looking at).
MAX_SOCKETS_PER_PARTICIPANT = 32
AUDIENCES = ("facilitator", "screen", "participant")


def encode(message: dict[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"))


class Outgoing(str):
    """A message's text (what the fallback path sends and tests read), framed on first use
    and then shared by every socket it goes to."""

    @cached_property
    def frame(self) -> bytes:
        return text_frame(self.encode())


@dataclass(eq=False)
class Connection:
    websocket: WebSocket
    audience: str
    lang: str
    participant_id: str | None = None
    preview: bool = False  # the facilitator's small preview of the screen: not a real screen
    # stream name -> newest message: a slow socket gets the latest view, never a backlog.
    views: dict[str, Outgoing] = field(default_factory=dict)
    replies: deque[Outgoing] = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    closed: bool = False
    sending: bool = False  # the sender task is draining the outbox
    raw: FramedProtocol | None = None
    # Frames held back to go out in one write (a step change sends every phone two views:
    # one system call instead of two, for thousands of sockets).
    cork: list[bytes] | None = None

    def __post_init__(self) -> None:
        scope = getattr(self.websocket, "scope", None)
        if self.raw is None and isinstance(scope, dict):
            self.raw = scope.get(SCOPE_KEY)

    def push_view(self, stream: str, message: Outgoing) -> None:
        if not self._write_now(message):
            self.views[stream] = message
            self.wake.set()

    def push_reply(self, message: str) -> bool:
        """Acks and errors are never dropped; a client that lets them pile up is cut off."""
        outgoing = message if isinstance(message, Outgoing) else Outgoing(message)
        if self._write_now(outgoing):
            return True
        if len(self.replies) >= MAX_QUEUED_ACKS:
            return False
        self.replies.append(outgoing)
        self.wake.set()
        return True

    def _write_now(self, message: Outgoing) -> bool:
        """Straight to the kernel when nothing is waiting: no task, no await."""
        raw = self.raw
        if raw is None or self.sending or self.views or self.replies or self.closed:
            return False
        if not raw.can_write_now():
            return False
        if self.cork is not None:
            self.cork.append(message.frame)
        else:
            raw.write_frame_now(message.frame)
        return True

    def uncork(self) -> None:
        frames, self.cork = self.cork, None
        if frames and self.raw is not None and self.raw.open():
            self.raw.write_frame_now(frames[0] if len(frames) == 1 else b"".join(frames))

    async def send_replies(self) -> None:
        while self.replies:
            await self._send_first(self.replies)

    async def _send_first(self, queue: deque[Outgoing]) -> None:
        # Removed only once written: a sender cancelled while waiting loses nothing.
        if self.raw is None:
            await self.websocket.send_text(queue[0])
            queue.popleft()
        elif await self.raw.write_frame(queue[0].frame):
            queue.popleft()
        else:
            queue.clear()  # the socket is closing: nothing more will be read

    async def _send_view(self) -> None:
        stream = next(iter(self.views))
        if self.raw is not None:
            await self.raw.writable.wait()  # then write the newest, which may have replaced it
            message = self.views.pop(stream)
            if self.raw.open():
                self.raw.write_frame_now(message.frame)
            return
        message = self.views[stream]
        await self.websocket.send_text(message)
        if self.views.get(stream) is message:
            del self.views[stream]

    async def run_sender(self) -> None:
        while not self.closed:
            await self.wake.wait()
            self.wake.clear()
            self.sending = True
            try:
                while (self.replies or self.views) and not self.closed:
                    if self.replies:
                        await self._send_first(self.replies)
                    else:
                        await self._send_view()
            finally:
                self.sending = False


# What a pacer paces: an audience's shared view (the hub), or an audience's in one language
# (an edge worker, engine/edge.py).
K = TypeVar("K", str, tuple[str, str])


def audience_of(key: str | tuple[str, str]) -> str:
    return key if isinstance(key, str) else key[0]


class Pacer(Generic[K]):
    """How soon each audience's shared view may be sent again after a participant's change:
    about ten times what the last one cost (render and fan-out), so that no audience's
    updates take much more than a tenth of the loop. A projector costs a millisecond and is
    updated every tick; 5,000 phones cost tens of milliseconds and are updated a few times
    a second. The facilitator's own actions are never held back."""

    FACTOR = 10.0
    # Phones: no faster than 20 views a second. The facilitator's panel: 10 a second is
    # more than a person reads, and it is the heaviest view (every table, every count).
    FLOOR = {"participant": 0.05, "facilitator": 0.1}
    CEILING = 1.0

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, floors: dict[str, float] | None = None
    ) -> None:
        self.clock = clock
        if floors is not None:
            self.FLOOR = floors
        self.stale: set[K] = set()
        self.not_before: dict[K, float] = {}
        self.costs: dict[K, deque[float]] = {}

    def due(self, urgent: bool) -> list[K]:
        """What may be sent now: the panel's and the projector's first (few sockets, and
        the room is looking at them), the phones' last."""
        now = self.clock()
        ready = [k for k in self.stale if urgent or now >= self.not_before.get(k, 0.0)]
        ready.sort(key=lambda k: AUDIENCES.index(audience_of(k)))
        self.stale.difference_update(ready)
        return ready

    def sent(self, key: K, cost: float) -> None:
        # The median of the last few costs: one update caught by a garbage collection or
        # another process must not hold the projector back for a third of a second.
        recent = self.costs.setdefault(key, deque(maxlen=5))
        recent.append(cost)
        typical = sorted(recent)[len(recent) // 2]
        interval = max(self.FLOOR.get(audience_of(key), 0.0), typical * self.FACTOR)
        self.not_before[key] = self.clock() + min(interval, self.CEILING)

    def wait(self) -> float | None:
        """Seconds until the next held-back audience is due (None: nothing is waiting)."""
        if not self.stale:
            return None
        now = self.clock()
        return max(0.0, min(self.not_before.get(a, now) for a in self.stale) - now)


class Alarm:
    """Calls CALLBACK once, at the earliest of the times asked for: a later request never
    pushes an earlier one back. Outside a running loop (start-up, a test driving ticks by
    hand) nothing is scheduled."""

    def __init__(self, callback: Callable[[], None]) -> None:
        self.callback = callback
        self._timer: asyncio.TimerHandle | None = None

    def ring_in(self, seconds: float) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._timer is not None and self._timer.when() <= loop.time() + seconds:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer = loop.call_later(seconds, self._ring)

    def _ring(self) -> None:
        self._timer = None
        self.callback()


class Phones(dict[str, dict[Connection, None]]):
    """Each participant's sockets, oldest first (a dict keeps insertion order)."""

    def join(self, conn: Connection) -> list[Connection]:
        """Adds CONN; returns the participant's oldest sockets past the limit, for the caller
        to remove and close."""
        assert conn.participant_id is not None
        group = self.setdefault(conn.participant_id, {})
        group[conn] = None
        return list(group)[: max(0, len(group) - MAX_SOCKETS_PER_PARTICIPANT)]

    def leave(self, conn: Connection) -> None:
        group = self.get(conn.participant_id or "")
        if group is not None:
            group.pop(conn, None)
            if not group:
                del self[conn.participant_id or ""]


class Remote(Protocol):
    """Sockets held by other processes (edge workers, engine/relay.py). The hub renders for
    them as for its own and hands each message over once; None (the default) is the
    single-process Palabre."""

    screen_count: int

    def langs(self, audience: str) -> set[str]: ...
    def has(self, participant_id: str) -> bool: ...
    def participant_ids(self) -> Collection[str]: ...
    def participant_langs(self, participant_id: str) -> set[str]: ...
    def shared(self, audience: str, lang: str, message: str) -> None: ...
    def personal(self, participant_id: str, lang: str, message: str) -> None: ...


class Hub:
    def __init__(self, views: Views) -> None:
        self.views = views
        self.remote: Remote | None = None
        self.connections: set[Connection] = set()
        self.by_audience: dict[str, set[Connection]] = {a: set() for a in AUDIENCES}
        self.by_participant = Phones()
        self.shared_seq = 0
        self.personal_round = 0
        self._personal_messages: dict[tuple[tuple[str, str], ...], Outgoing] = {}
        self.renders = 0  # counted, so tests can check each view is rendered once per tick
        self.closed_total = 0  # sockets closed since start (collector.py)
        self.pacer: Pacer[str] = Pacer()
        # Newest shared message and its regions per (audience, lang), reused for every new
        # socket: a join storm costs one render, not one per phone; an unchanged view is
        # not sent again.
        self._shared: dict[tuple[str, str], tuple[Outgoing, dict[str, str]]] = {}
        self._fresh_this_tick: set[tuple[str, str]] = set()
        self._forced: set[str] = set()  # audiences whose sockets may hold different views

    # -- membership ------------------------------------------------------------------
    def add(self, conn: Connection) -> list[Connection]:
        """Registers a socket; returns the participant's oldest sockets it pushes over the
        limit, for the caller to close."""
        self.connections.add(conn)
        self.by_audience[conn.audience].add(conn)
        evicted = self.by_participant.join(conn) if conn.participant_id else []
        for oldest in evicted:
            self.remove(oldest)
        self.recount()
        return evicted

    def remove(self, conn: Connection) -> None:
        conn.closed = True
        conn.wake.set()
        if conn in self.connections:
            self.closed_total += 1
        self.connections.discard(conn)
        self.by_audience[conn.audience].discard(conn)
        self.by_participant.leave(conn)
        self.recount()

    def recount(self) -> None:
        """What the panel shows: phones and screens connected, here and on edge workers."""
        self.views.connected = len(self.by_participant)
        self.views.screens = sum(1 for c in self.by_audience["screen"] if not c.preview)
        if self.remote is not None:
            # O(local sockets): the writer holds few, the edges may hold 100,000.
            local_only = sum(1 for p in self.by_participant if not self.remote.has(p))
            self.views.connected = len(self.remote.participant_ids()) + local_only
            self.views.screens += self.remote.screen_count

    # -- fan-out -----------------------------------------------------------------------
    def send_fresh(self, conn: Connection) -> None:
        """A full fresh view of every stream: after a connect, a reconnect, or a resync."""
        conn.push_view("shared", self._current_shared(conn.audience, conn.lang))
        if conn.participant_id:
            self._push_personal(conn.participant_id, [conn])

    def fresh_messages(
        self, audience: str, lang: str, participant_id: str | None
    ) -> tuple[Outgoing, Outgoing | None]:
        """What `send_fresh` sends, for a socket held elsewhere (an edge worker)."""
        shared = self._current_shared(audience, lang)
        if participant_id is None:
            return shared, None
        return shared, self._personal_message(self.views.personal(participant_id, lang))

    def _current_shared(self, audience: str, lang: str) -> Outgoing:
        """The shared view as the state is now, even while the pacer holds the audience
        back (a facilitator opening the panel must not see it as it was a second ago).
        Rendered at most once a tick; the sockets already open get it at the held flush,
        even if by then the state went back to what they show."""
        key = (audience, lang)
        if audience not in self.pacer.stale or key in self._fresh_this_tick:
            return self._shared_message(audience, lang)
        self._fresh_this_tick.add(key)
        message, changed = self._render_again(audience, lang)
        if changed:
            self._forced.add(audience)
        return message

    def flush(
        self,
        changes: Changes,
        audiences: set[str] | None = None,
        urgent: bool = False,
        personal: bool = True,
    ) -> float | None:
        """Sends what changed; returns in how many seconds to call again for the audiences
        held back (None: none is). With PERSONAL false, the caller sends the personal views
        itself (`flush_personal`), after handing the shared ones over."""
        self._fresh_this_tick.clear()
        self.pacer.stale |= set(AUDIENCES) if changes.shared else set(audiences or ())
        corked = list(self.by_audience["participant"]) if changes.all_participants else []
        for conn in corked:
            conn.cork = []
        try:
            for audience in self.pacer.due(urgent):
                started = time.perf_counter()
                self._flush_shared(audience)
                self.pacer.sent(audience, time.perf_counter() - started)
            if personal:
                self.flush_personal(changes)
        finally:
            for conn in corked:
                conn.uncork()
        return self.pacer.wait()

    def flush_personal(self, changes: Changes) -> None:
        remote = self.remote
        if changes.all_participants:
            self.views.forget_personal()  # everyone's view changed: the old renders are done
            targets = list(self.by_participant)
            if remote is not None:
                targets += [p for p in remote.participant_ids() if p not in self.by_participant]
        else:
            targets = [
                p
                for p in changes.participants
                if p in self.by_participant or (remote is not None and remote.has(p))
            ]
        if targets:
            self._next_personal_round()
        for participant_id in targets:
            self._push_personal(participant_id, self.by_participant.get(participant_id, {}))

    def _flush_shared(self, audience: str) -> None:
        langs = {lang for (a, lang) in self._shared if a == audience}
        langs |= {c.lang for c in self.by_audience[audience]}
        remote_langs = self.remote.langs(audience) if self.remote is not None else set()
        langs |= remote_langs
        fresh: dict[str, Outgoing] = {}
        forced = audience in self._forced
        self._forced.discard(audience)
        for lang in langs:
            message, changed = self._render_again(audience, lang)
            if forced or changed:
                fresh[lang] = message
        if fresh:
            for conn in self.by_audience[audience]:
                new = fresh.get(conn.lang)
                if new is not None:
                    conn.push_view("shared", new)
            for lang in remote_langs & fresh.keys():
                self.remote.shared(audience, lang, fresh[lang])  # type: ignore[union-attr]

    def _render_again(self, audience: str, lang: str) -> tuple[Outgoing, bool]:
        """The view rendered from the state now, and whether its bytes changed."""
        before = self._shared.pop((audience, lang), None)
        message = self._shared_message(audience, lang, unchanged_from=before)
        return message, before is None or message is not before[0]

    def _shared_message(
        self,
        audience: str,
        lang: str,
        unchanged_from: tuple[Outgoing, dict[str, str]] | None = None,
    ) -> Outgoing:
        key = (audience, lang)
        cached = self._shared.get(key)
        if cached is None:
            regions = self.views.shared(audience, lang)
            self.renders += 1
            if unchanged_from is not None and unchanged_from[1] == regions:
                cached = unchanged_from  # same bytes: nobody needs them again
            else:
                self.shared_seq += 1
                cached = (self._view_message("shared", self.shared_seq, regions), regions)
            self._shared[key] = cached
        return cached[0]

    def _push_personal(self, participant_id: str, conns: Iterable[Connection]) -> None:
        by_lang: dict[str, Outgoing] = {}
        for conn in conns:
            if conn.lang not in by_lang:
                regions = self.views.personal(participant_id, conn.lang)
                by_lang[conn.lang] = self._personal_message(regions)
            conn.push_view("personal", by_lang[conn.lang])
        if self.remote is not None:
            for lang in self.remote.participant_langs(participant_id):
                if lang not in by_lang:
                    regions = self.views.personal(participant_id, lang)
                    by_lang[lang] = self._personal_message(regions)
                self.remote.personal(participant_id, lang, by_lang[lang])

    def _personal_message(self, regions: dict[str, str]) -> Outgoing:
        """Personal views carry the round's seq, the same for everyone: people whose views
        are identical (at a step change, most of the room) share one message and one
        frame. The seq still only grows for each socket, which is all a phone checks."""
        key = tuple(regions.items())
        message = self._personal_messages.get(key)
        if message is None:
            message = self._view_message("personal", self.personal_round, regions)
            self._personal_messages[key] = message
        return message

    def _next_personal_round(self) -> None:
        self.personal_round += 1
        self._personal_messages.clear()

    @staticmethod
    def _view_message(stream: str, seq: int, regions: dict[str, str]) -> Outgoing:
        return Outgoing(encode({"type": "view", "stream": stream, "seq": seq, "regions": regions}))
