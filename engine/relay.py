"""The writer's side of edge workers (`palabre serve --broker redis://…`).

Edge workers hold the phones' and screens' sockets (engine/edge.py); the writer keeps the
workshop, decides every action and renders every view, as it does alone. The hub sees the
edges' sockets through `Relay` (its `remote`): each shared view still renders once per
audience and language and goes out once on the `views` channel, whatever the number of
edges; personal views and acks go to the one edge holding the person's sockets, batched per
tick. Acks are queued by the tick after the commit, as for local sockets: an edge never
hears "ok" for an action that is not on disk.

The writer trusts the edges with who a socket is (they check the Origin and the signed
cookie) but not with a participant's role: that comes from the roster here, and a cookie
for nobody in it gets its socket closed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .auth import Identity
from .broker import BEAT_SECONDS, EDGE_TIMEOUT_SECONDS, Bus
from .hub import AUDIENCES
from .kits import LANGUAGES

if TYPE_CHECKING:
    from .service import Service

log = logging.getLogger("palabre.relay")
# An edge asked to announce its sockets again (which makes the writer send each of them a
# fresh view) at most this often for actions from sockets it never announced: those come
# in bursts, and one answer covers them all.
ASK_AGAIN_AT_MOST_EVERY = 1.0  # seconds


class _Closer:
    """What the service calls as `conn.websocket.close()`: asks the edge to close it."""

    def __init__(self, conn: RemoteConnection) -> None:
        self.conn = conn

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.conn.relay.close(self.conn, code, reason)


@dataclass(eq=False)
class RemoteConnection:
    """One socket held by an edge, as the service sees it: replies go to its edge's batch."""

    relay: Relay
    edge: str
    cid: str
    audience: str
    lang: str
    participant_id: str | None = None
    preview: bool = False

    @property
    def websocket(self) -> _Closer:
        return _Closer(self)

    def push_reply(self, message: str) -> bool:
        self.relay.batch(self.edge).to_conn(self.cid, message, None)
        return True

    def push_view(self, stream: str, message: str) -> None:
        self.relay.batch(self.edge).to_conn(self.cid, message, stream)


@dataclass
class EdgeBatch:
    """What one tick sends one edge: each distinct message once, then who gets which."""

    msgs: list[str] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)
    personal: list[tuple[str, str, int]] = field(default_factory=list)
    conns: list[tuple[str, int, str | None]] = field(default_factory=list)
    close: list[tuple[str, int, str]] = field(default_factory=list)
    again: bool = False  # the edge must say hello again for every socket

    def ref(self, message: str) -> int:
        found = self.index.get(message)
        if found is None:
            found = self.index[message] = len(self.msgs)
            self.msgs.append(str(message))
        return found

    def to_conn(self, cid: str, message: str, stream: str | None) -> None:
        self.conns.append((cid, self.ref(message), stream))

    def body(self, epoch: str) -> dict[str, Any]:
        return {"k": "batch", "epoch": epoch, "msgs": self.msgs, "personal": self.personal,
                "conns": self.conns, "close": self.close, "again": self.again}  # fmt: skip


class Relay:
    def __init__(self, service: Service, url: str, workshop: str) -> None:
        self.service = service
        self.bus = Bus(url, workshop, "writer")
        # A new writer's seqs start past any earlier writer's: phones keep their sockets on
        # the edges across a writer change and drop a view older than one they have.
        self.epoch = str(time.time_ns() // 1000)
        service.hub.shared_seq = service.hub.personal_round = int(self.epoch)
        self.conns: dict[tuple[str, str], RemoteConnection] = {}
        self.edges: dict[str, float] = {}  # edge id -> when last heard from
        self.forgotten: set[str] = set()  # edges dropped for silence (an edge dies at most once)
        self.asked: dict[str, float] = {}  # edge -> when last asked to announce its sockets
        self.by_edge: dict[str, set[str]] = {}
        self.people: dict[str, Counter[tuple[str, str]]] = {}  # participant -> (edge, lang)
        self.audience_langs: Counter[tuple[str, str]] = Counter()
        self.screen_count = 0
        self._shared: list[tuple[str, str, str]] = []
        self._batches: dict[str, EdgeBatch] = {}

    async def start(self) -> None:
        # (run_server checked the broker is there.) On every (re)subscription: edges say
        # hello again for every socket, since what they sent while nobody listened is lost.
        self.bus.start(["inbox"], self.handle, on_connect=self._listening)
        asyncio.get_running_loop().create_task(self._beat())

    def _listening(self) -> None:
        self.bus.publish("views", {"k": "writer", "epoch": self.epoch, "again": True})

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(BEAT_SECONDS)
            self.bus.publish("views", {"k": "writer", "epoch": self.epoch})
            cutoff = time.monotonic() - EDGE_TIMEOUT_SECONDS
            for edge in [e for e, seen in self.edges.items() if seen < cutoff]:
                log.warning("edge %s silent for %.0f s: its sockets are forgotten",
                            edge, EDGE_TIMEOUT_SECONDS)  # fmt: skip
                self._forget_edge(edge)
                self.service.hub.recount()
                self.service.touch({"facilitator", "screen"})

    # -- what the hub asks (hub.Remote) ---------------------------------------------------
    def langs(self, audience: str) -> set[str]:
        return {lang for (a, lang), n in self.audience_langs.items() if a == audience and n}

    def has(self, participant_id: str) -> bool:
        return participant_id in self.people

    def participant_ids(self) -> Collection[str]:
        return self.people  # a dict's keys: len() and iteration without a copy

    def participant_langs(self, participant_id: str) -> set[str]:
        return {lang for (_, lang) in self.people.get(participant_id, ())}

    def shared(self, audience: str, lang: str, message: str) -> None:
        self._shared.append((audience, lang, str(message)))

    def personal(self, participant_id: str, lang: str, message: str) -> None:
        for edge, person_lang in self.people.get(participant_id, ()):
            if person_lang == lang:
                batch = self.batch(edge)
                batch.personal.append((participant_id, lang, batch.ref(message)))

    # -- batches -------------------------------------------------------------------------
    def batch(self, edge: str) -> EdgeBatch:
        found = self._batches.get(edge)
        if found is None:
            found = self._batches[edge] = EdgeBatch()
        return found

    def close(self, conn: RemoteConnection, code: int, reason: str) -> None:
        self.batch(conn.edge).close.append((conn.cid, code, reason))

    def flush(self, urgent: bool = False) -> None:
        """After each tick (and each inbox message): what it produced, one publish each.
        URGENT (the facilitator acted): edges send the shared views at once, unpaced."""
        if self._shared:
            message = {"k": "views", "epoch": self.epoch, "shared": self._shared}
            self.bus.publish("views", message | ({"urgent": True} if urgent else {}))
            self._shared = []
        batches, self._batches = self._batches, {}
        for edge, batch in batches.items():
            self.bus.publish(f"edge:{edge}", batch.body(self.epoch))

    # -- the inbox -----------------------------------------------------------------------
    def handle(self, name: str, message: dict[str, Any]) -> None:
        edge = str(message.get("edge", ""))
        if not edge:
            return
        if edge in self.forgotten:
            # Silent for 5 s (a pause, a partition), then back: its sockets, forgotten
            # here, must be announced again.
            self.forgotten.discard(edge)
            self.batch(edge).again = True
        self.edges[edge] = time.monotonic()
        self.by_edge.setdefault(edge, set())
        changed = False
        for cid, audience, lang, participant_id, preview in message.get("hello", ()):
            changed |= self._hello(edge, str(cid), audience, lang, participant_id, bool(preview))
        for cid in message.get("fresh", ()):
            conn = self.conns.get((edge, str(cid)))
            if conn is not None:
                self._send_fresh(conn)
        for cid, act in message.get("acts", ()):  # before the byes: a socket acted, then left
            self._act(edge, str(cid), act)
        for cid in message.get("bye", ()):
            changed |= self._bye(edge, str(cid))
        if changed:
            self.service.hub.recount()
            self.service.touch({"facilitator", "screen"})
        self.flush()

    def _hello(self, edge: str, cid: str, audience: str, lang: str,
               participant_id: str | None, preview: bool) -> bool:  # fmt: skip
        if (edge, cid) in self.conns:  # sent again after a writer change or a lost reply
            self._send_fresh(self.conns[(edge, cid)])
            return False
        known = participant_id is None or self.service.workshop.roster.get(participant_id)
        if audience not in AUDIENCES or lang not in LANGUAGES or not known:
            self.batch(edge).close.append((cid, 1008, "unknown"))
            return False
        conn = RemoteConnection(self, edge, cid, audience, lang, participant_id, preview)
        self.conns[(edge, cid)] = conn
        self.by_edge[edge].add(cid)
        self.audience_langs[(audience, lang)] += 1
        if participant_id:
            self.people.setdefault(participant_id, Counter())[(edge, lang)] += 1
        if audience == "screen" and not preview:
            self.screen_count += 1
        self._send_fresh(conn)
        return True

    def _send_fresh(self, conn: RemoteConnection) -> None:
        shared, personal = self.service.hub.fresh_messages(
            conn.audience, conn.lang, conn.participant_id
        )
        conn.push_view("shared", shared)
        if personal is not None:
            conn.push_view("personal", personal)

    def _bye(self, edge: str, cid: str) -> bool:
        conn = self.conns.pop((edge, cid), None)
        if conn is None:
            return False
        self.by_edge.get(edge, set()).discard(cid)
        self.audience_langs[(conn.audience, conn.lang)] -= 1
        if conn.participant_id:
            langs = self.people.get(conn.participant_id)
            if langs is not None:
                langs[(edge, conn.lang)] -= 1
                if langs[(edge, conn.lang)] <= 0:
                    del langs[(edge, conn.lang)]
                if not langs:
                    del self.people[conn.participant_id]
        if conn.audience == "screen" and not conn.preview:
            self.screen_count -= 1
        return True

    def _forget_edge(self, edge: str) -> None:
        for cid in list(self.by_edge.get(edge, ())):
            self._bye(edge, cid)
        self.by_edge.pop(edge, None)
        self.edges.pop(edge, None)
        self.asked.pop(edge, None)
        self._batches.pop(edge, None)
        self.forgotten.add(edge)

    def _act(self, edge: str, cid: str, act: Any) -> None:
        conn = self.conns.get((edge, cid))
        if conn is None:  # its hello was lost: the act comes back with it
            now = time.monotonic()
            if now - self.asked.get(edge, -ASK_AGAIN_AT_MOST_EVERY) >= ASK_AGAIN_AT_MOST_EVERY:
                self.asked[edge] = now
                self.batch(edge).again = True
            return
        if not isinstance(act, dict):
            return
        identity = self._identity(conn)
        if identity is None:
            self.close(conn, 1008, "unknown")
            return
        self.service.submit(conn, identity, act)  # type: ignore[arg-type]

    def _identity(self, conn: RemoteConnection) -> Identity | None:
        workshop_id = self.service.secrets.workshop_id
        if conn.participant_id is None:
            return Identity(workshop_id, conn.audience)  # type: ignore[arg-type]
        person = self.service.workshop.roster.get(conn.participant_id)
        if person is None:
            return None
        return Identity(workshop_id, person.actor.role, conn.participant_id)
