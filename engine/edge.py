"""An edge worker (`palabre edge`): holds phone and screen sockets for one workshop and
forwards bytes, so that one workshop can have more phones than one process can hold.

The edge decides nothing and renders nothing. It checks each socket as the writer would (the
Origin, the signed cookie, the size and rate limits of engine/live.py, which it reuses),
says hello to the writer through the broker, and from then on:
- a shared view published once by the writer goes, as the same framed bytes, to every
  socket of that audience and language here (the latest-wins outboxes of engine/hub.py);
- a personal view, an ack or a fresh view goes to the sockets it names;
- an action goes to the writer and is kept here until its ack comes back. When a new writer
  announces itself (the old one died and a standby took the workshop), the edge says hello
  again for every socket and sends the kept actions again: the writer answers an action it
  already committed with the same ack (ids are remembered in the log), so nothing
  acknowledged is lost and nothing is done twice. The phones keep their sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from .activity import N_
from .auth import COOKIE_NAMES, LANG_COOKIE, CookieSigner, Identity, RoleName
from .broker import BEAT_SECONDS, Bus
from .guard import BasePath, TrustedHosts
from .hub import Alarm, Connection, Outgoing, Pacer, Phones
from .kits import LANGUAGES
from .live import LiveEndpoint, refused_ack
from .render import Renderer

log = logging.getLogger("palabre.edge")
FLUSH_SECONDS = 0.002  # hellos and actions from many sockets share one publish
# Actions one socket may have waiting for their ack. While no writer answers (a take-over
# in progress), a phone keeps tapping: past this many, it is told to slow down instead of
# the edge holding an ever longer list.
MAX_PENDING = 64
PHONES_FLOOR = Pacer.FLOOR["participant"]


@dataclass(frozen=True)
class EdgeSecrets:
    """What an edge needs from the workshop's meta: enough to check cookies, nothing more."""

    workshop_id: str
    cookie_key: str
    language: str


class Identify:
    """LiveEndpoint's `identify`: the signed cookie says who; the writer checks the roster."""

    def __init__(self, found: EdgeSecrets) -> None:
        self.signer = CookieSigner(found.cookie_key, found.workshop_id)
        self.language = found.language

    def identity(self, websocket: WebSocket, role: RoleName) -> Identity | None:
        return self.signer.read(role, websocket.cookies.get(COOKIE_NAMES[role]))

    def lang_for(self, websocket: WebSocket) -> str:
        requested = websocket.cookies.get(LANG_COOKIE)
        return requested if requested in LANGUAGES else self.language


class EdgeHub:
    """The sockets of this edge, by id, audience and language, and participant."""

    def __init__(self, link: Link) -> None:
        self.link = link
        self.ids = (f"{n:x}" for n in itertools.count(1))
        self.conns: dict[str, Connection] = {}
        self.cid: dict[Connection, str] = {}
        self.by_key: dict[tuple[str, str], set[Connection]] = {}
        self.by_participant = Phones()
        self.shared: dict[tuple[str, str], Outgoing] = {}  # newest per audience and lang
        self.pending: dict[str, dict[str, dict[str, Any]]] = {}  # cid -> action id -> act
        self.greeting: set[str] = set()  # hello sent: the writer's fresh views are coming
        # The writer paces the panel already; here, what this edge's fan-out costs.
        self.pacer: Pacer[tuple[str, str]] = Pacer(floors={"participant": PHONES_FLOOR})
        self.alarm = Alarm(self.fan_out)

    def add(self, conn: Connection) -> list[Connection]:
        cid = next(self.ids)
        self.conns[cid] = conn
        self.cid[conn] = cid
        self.by_key.setdefault((conn.audience, conn.lang), set()).add(conn)
        evicted = self.by_participant.join(conn) if conn.participant_id else []
        for oldest in evicted:
            self.remove(oldest)
        self.greeting.add(cid)
        self.link.hello(cid, conn)
        return evicted

    def remove(self, conn: Connection) -> None:
        conn.closed = True
        conn.wake.set()
        cid = self.cid.pop(conn, None)
        if cid is None:
            return
        del self.conns[cid]
        self.pending.pop(cid, None)
        self.greeting.discard(cid)
        self.by_key.get((conn.audience, conn.lang), set()).discard(conn)
        self.by_participant.leave(conn)
        self.link.bye(cid)

    def send_fresh(self, conn: Connection) -> None:
        """On connect the newest shared view is here already; the personal one comes from
        the writer (asked by the hello). A resync asks the writer for both."""
        cid = self.cid.get(conn)
        if cid is None:
            return
        cached = self.shared.get((conn.audience, conn.lang))
        if cached is not None:
            conn.push_view("shared", cached)
        if cid in self.greeting:
            self.greeting.discard(cid)  # the answer to the hello is the fresh view
        else:
            self.link.fresh(cid)

    # -- from the writer -------------------------------------------------------------------
    def shared_views(self, shared: list[list[str]], urgent: bool = False) -> None:
        for audience, lang, text in shared:
            key = (audience, lang)
            self.shared[key] = Outgoing(text)  # framed once, on first use, for every socket
            self.pacer.stale.add(key)
        self.fan_out(urgent)

    def fan_out(self, urgent: bool = False) -> None:
        """Each audience's newest view to its sockets here, paced by what sending it costs
        (hub.Pacer, as in one process): the writer's pacing sees only its render and one
        publish, not this edge's thousands of writes. The facilitator's actions are never
        held back (URGENT); a newer view replaces one still waiting."""
        for key in self.pacer.due(urgent):
            started = time.perf_counter()
            message = self.shared[key]
            for conn in self.by_key.get(key, ()):
                conn.push_view("shared", message)
            self.pacer.sent(key, time.perf_counter() - started)
        wait = self.pacer.wait()
        if wait is not None:
            self.alarm.ring_in(wait)

    def batch(self, body: dict[str, Any]) -> None:
        msgs = [Outgoing(text) for text in body.get("msgs", ())]
        for participant_id, lang, index in body.get("personal", ()):
            for conn in self.by_participant.get(participant_id, ()):
                if conn.lang == lang:
                    conn.push_view("personal", msgs[index])
        for cid, index, stream in body.get("conns", ()):
            target = self.conns.get(cid)
            if target is None:
                continue
            if stream:
                target.push_view(stream, msgs[index])
            else:
                self._reply(cid, target, msgs[index])
        for cid, code, reason in body.get("close", ()):
            refused = self.conns.get(cid)
            if refused is not None:
                self.remove(refused)
                asyncio.ensure_future(refused.websocket.close(code=code, reason=reason))

    def _reply(self, cid: str, conn: Connection, message: Outgoing) -> None:
        if '"type":"ack"' in message[:20]:
            ack = json.loads(message)
            self.pending.get(cid, {}).pop(str(ack.get("id")), None)
        if not conn.push_reply(message):
            asyncio.ensure_future(conn.websocket.close(code=1008))


class Link:
    """The edge's end of the bus: batched hellos, byes, actions and beats to the writer."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.edge = f"{os.getpid()}-{secrets.token_hex(4)}"
        self.hub = EdgeHub(self)
        self.writer_epoch = ""
        self.out: dict[str, list[Any]] = {"hello": [], "bye": [], "fresh": [], "acts": []}
        self._wake = asyncio.Event()

    # -- to the writer ---------------------------------------------------------------------
    def hello(self, cid: str, conn: Connection) -> None:
        self.out["hello"].append([cid, conn.audience, conn.lang, conn.participant_id,
                                  conn.preview])  # fmt: skip
        self._wake.set()

    def bye(self, cid: str) -> None:
        self.out["bye"].append(cid)
        self._wake.set()

    def fresh(self, cid: str) -> None:
        self.out["fresh"].append(cid)
        self._wake.set()

    def act(self, cid: str, message: dict[str, Any]) -> None:
        self.hub.pending.setdefault(cid, {})[str(message.get("id", ""))] = message
        self.out["acts"].append([cid, message])
        self._wake.set()

    async def run(self) -> None:
        self.bus.start(["views", f"edge:{self.edge}"], self.receive, self.again)
        beat = asyncio.create_task(self._beat())
        try:
            while True:
                await self._wake.wait()
                await asyncio.sleep(FLUSH_SECONDS)
                self._wake.clear()
                self._send()
        finally:
            beat.cancel()

    def _send(self) -> None:
        out = {k: v for k, v in self.out.items() if v}
        self.out = {"hello": [], "bye": [], "fresh": [], "acts": []}
        if out:
            self.bus.publish("inbox", {"edge": self.edge, **out})

    async def _beat(self) -> None:
        while True:
            self.bus.publish("inbox", {"edge": self.edge, "beat": time.time()})
            await asyncio.sleep(BEAT_SECONDS)

    # -- from the writer -------------------------------------------------------------------
    def receive(self, name: str, body: dict[str, Any]) -> None:
        epoch = str(body.get("epoch", ""))
        if epoch and epoch != self.writer_epoch:
            # A new writer (or the first one this edge hears): it knows none of our sockets.
            known = self.writer_epoch
            self.writer_epoch = epoch
            if known or body.get("k") == "writer":
                self.again()
        elif body.get("again"):
            # The writer subscribed again (what was published meanwhile is lost to it),
            # forgot this edge, or got an action from a socket it never heard of. Always
            # answered: an answer sent a moment ago may be what it missed. (The writer asks
            # one edge at most once a second; a broadcast comes once per subscription.)
            self.again()
        kind = body.get("k")
        if kind == "views":
            self.hub.shared_views(body.get("shared", []), bool(body.get("urgent")))
        elif kind == "batch":
            self.hub.batch(body)

    def again(self) -> None:
        """Every socket's hello, and every unacknowledged action, once more."""
        hub = self.hub
        self.out["hello"] = [[cid, c.audience, c.lang, c.participant_id, c.preview]
                             for cid, c in hub.conns.items()]  # fmt: skip
        self.out["acts"] = [[cid, act] for cid, acts in hub.pending.items()
                            for act in acts.values()]  # fmt: skip
        self._wake.set()


class EdgeService:
    """What LiveEndpoint needs of a service, on an edge."""

    def __init__(self, link: Link, renderer: Renderer) -> None:
        self.link = link
        self.hub = link.hub
        self.renderer = renderer

    def touch(self, audiences: set[str]) -> None:
        """The writer counts sockets from the hellos and byes."""

    def clock(self) -> float:
        return time.time()

    def submit(self, conn: Connection, identity: Identity, message: dict[str, Any]) -> None:
        cid = self.hub.cid.get(conn)
        if cid is None:
            return
        if len(self.hub.pending.get(cid, ())) >= MAX_PENDING:
            text = self.renderer.gettext(conn.lang, N_("Too many messages; please slow down."))
            conn.push_reply(refused_ack(message.get("id"), {"code": "slow_down", "message": text}))
            return
        self.link.act(cid, message)


def create_edge_app(
    bus: Bus,
    found: EdgeSecrets,
    renderer: Renderer,
    origins: frozenset[str],
    allowed_hosts: frozenset[str] = frozenset(),
    base: str = "",
) -> Starlette:
    link = Link(bus)
    service = EdgeService(link, renderer)
    live = LiveEndpoint(service, origins, Identify(found))  # type: ignore[arg-type]

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True, "edge": link.edge, "sockets": len(link.hub.conns),
                             "writer": link.writer_epoch})  # fmt: skip

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(link.run())
        try:
            yield
        finally:
            task.cancel()
            await bus.close()

    app = Starlette(
        routes=[Route("/-/health", health), WebSocketRoute("/ws", live.endpoint)],
        lifespan=lifespan,
    )
    app.add_middleware(TrustedHosts, allowed=allowed_hosts)
    app.add_middleware(BasePath, base=base)  # /amiens/ws: a workshop on a shared host
    app.state.link = link
    return app
