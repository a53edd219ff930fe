"""The running service: opens the log, replays it, takes actions, commits them per tick,
acknowledges after commit, then fans the new views out."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pluggy

from .activity import N_, Activity, Rejection
from .auth import CookieSigner, Identity, new_facilitator_secret, new_join_code
from .collector import Collector
from .events import StoredEvent
from .guard import base_path
from .hub import Alarm, Connection, Hub, encode
from .kits import Kit, parse_kit
from .network import qr_svg
from .relay import Relay
from .render import Renderer
from .store import Store, open_store
from .views import JoinInfo, Views
from .workshop import Changes, Workshop

log = logging.getLogger("palabre")
TICK_SECONDS = 0.01  # group commit window: events arriving within it share one fsync
PUBLISH_WAIT_SECONDS = 0.5  # at most, before personal views render anyway (Redis is away)


@dataclass
class Secrets:
    workshop_id: str
    facilitator_secret: str
    screen_token: str
    jury_token: str
    join_code: str
    cookie_key: str


_SECRET_MAKERS: dict[str, Callable[[], str]] = {
    "workshop_id": lambda: secrets.token_urlsafe(12),
    "facilitator_secret": new_facilitator_secret,
    "screen_token": lambda: secrets.token_urlsafe(16),
    "jury_token": lambda: secrets.token_urlsafe(16),
    "join_code": new_join_code,
    "cookie_key": lambda: secrets.token_urlsafe(32),
}


@dataclass
class Tick:
    events: list[StoredEvent] = field(default_factory=list)
    replies: list[tuple[Connection, str]] = field(default_factory=list)
    changes: Changes = field(default_factory=Changes)
    urgent: bool = False  # the facilitator acted: every audience sees it at once
    committed: list[asyncio.Future[None]] = field(default_factory=list)


class Service:
    def __init__(
        self,
        db_path: Path | str,
        kit: Kit | None,
        activities: dict[str, type[Activity]],
        pm: pluggy.PluginManager,
        public_url: str,
        read_only: bool = False,
        workshop_name: str = "default",
        wait_for_lock: float = 0.0,
        broker: str | None = None,
    ) -> None:
        self.pm = pm
        # A replay (`palabre replay`): the facilitator steps through a finished workshop;
        # nothing else is accepted (RO_ACTIONS).
        self.read_only = read_only
        self.activities = activities
        self.store: Store = open_store(db_path, workshop_name, wait_for_lock)
        meta = self.store.get_meta()
        if "kit" in meta:
            kit = parse_kit(meta["kit"], meta.get("kit_name", "kit.toml"), activities)
        elif kit is None:
            raise ValueError("a new workshop needs a kit")
        self.secrets = self._load_or_create_secrets(meta, kit)
        self.kit = kit
        self.workshop = Workshop(kit, self.secrets.workshop_id)
        self.signer = CookieSigner(self.secrets.cookie_key, self.secrets.workshop_id)
        self.renderer = Renderer(activities, pm)
        self.public_url = public_url.rstrip("/")
        self.base = base_path(self.public_url)  # "/amiens": a workshop on a shared host
        self.renderer.set_base(self.base)
        self.clock_offset = 0.0  # moved only by tests, through PALABRE_TEST_CLOCK
        self.views = Views(self.workshop, self.renderer, self._join_info())
        self.views.clock = self.clock
        self.views.faults.on_new = lambda: self.touch({"facilitator"})
        self.hub = Hub(self.views)
        # Edge workers hold sockets elsewhere (engine/relay.py); None: this process holds all.
        self.relay: Relay | None = None
        if broker:
            self.relay = Relay(self, broker, workshop_name)
            self.hub.remote = self.relay
        self._tick = Tick()
        self._touched: set[str] = set()
        self._wake = asyncio.Event()
        # A tick for the audiences the hub held back (see hub.Pacer).
        self._alarm = Alarm(self._wake.set)
        self._background: set[asyncio.Task[None]] = set()
        self._replay()

    # -- start-up ----------------------------------------------------------------------
    def _load_or_create_secrets(self, meta: dict[str, str], kit: Kit) -> Secrets:
        # Missing keys are made once and kept: a database from an older version gains them.
        missing = {key: make() for key, make in _SECRET_MAKERS.items() if key not in meta}
        if "kit" not in meta:
            missing |= {"kit": kit.text, "kit_name": kit.name}
        if missing:
            self.store.set_meta(missing)
            meta = meta | missing
        return Secrets(**{key: meta[key] for key in _SECRET_MAKERS})

    def _replay(self) -> None:
        count = 0
        for event in self.store.replay():
            self.workshop.apply(event)
            count += 1
        if count == 0:
            events = self.workshop.open_first_step()
            for event in events:
                self.workshop.apply(event)
            self.store.append(events)
        log.info("replayed %d events; current step %r", count, self.workshop.current_step.step.id)

    def _join_info(self) -> JoinInfo:
        code = self.secrets.join_code
        url = f"{self.public_url}/j/{code}"
        short = url.split("://", 1)[-1]
        return JoinInfo(url=url, short_url=short, code=code, qr_svg=qr_svg(url))

    # -- URLs --------------------------------------------------------------------------
    def facilitator_url(self) -> str:
        return f"{self.public_url}/f/{self.secrets.facilitator_secret}"

    def screen_url(self) -> str:
        return f"{self.public_url}/s/{self.secrets.screen_token}"

    def join_url(self) -> str:
        return self.views.join.url

    def jury_url(self) -> str:
        return f"{self.public_url}/jury/{self.secrets.jury_token}"

    def clock(self) -> float:
        return time.time() + self.clock_offset

    # -- actions -----------------------------------------------------------------------
    def join(
        self,
        name: str,
        lang: str,
        role: str = "participant",
        table: int | None = None,
        captain: bool = False,
    ) -> str:
        """Record a new participant now (committed before returning) and return their id.
        Raises Rejection (unknown table, captain already taken)."""
        participant_id = self._join(name, lang, role, table, captain)
        self.commit_tick()
        return participant_id

    async def join_committed(
        self,
        name: str,
        lang: str,
        role: str = "participant",
        table: int | None = None,
        captain: bool = False,
    ) -> str:
        """As `join`, but the participant is written with the tick's other events: a join
        storm shares one fsync per tick instead of paying one each. Returns once on disk
        (the join page redirects only then)."""
        participant_id = self._join(name, lang, role, table, captain)
        done = asyncio.get_running_loop().create_future()
        self._tick.committed.append(done)
        self._wake.set()
        await done
        return participant_id

    def _join(self, name: str, lang: str, role: str, table: int | None, captain: bool) -> str:
        event = self.workshop.join_event(name, lang, role, table, captain)
        self._tick.changes.add(self.workshop.apply(event))
        self._tick.events.append(event)
        return str(event.data["participant"])

    def submit(self, conn: Connection, identity: Identity, message: dict[str, Any]) -> None:
        """Decide and apply an action at once; its ack waits for the tick's commit."""
        action_id = str(message.get("id", ""))[:64]
        actor = self.workshop.actor_for(identity.role, identity.participant_id)
        previous = self.workshop.seen_actions.get((actor.key, action_id)) if action_id else None
        if previous is not None:
            self._reply_after_commit(
                conn, {"type": "ack", "id": action_id, "ok": True, "seq": previous}
            )
            return
        if self.read_only and not _allowed_in_replay(message):
            rejection = Rejection(
                "read_only", N_("This is a replay of a past workshop: nothing can be changed.")
            )
            conn.push_reply(encode(self._rejection(action_id, rejection, conn.lang)))
            return
        try:
            events = self.workshop.decide(
                actor,
                message.get("step"),
                str(message["action"]),
                message.get("data") or {},
                action_id,
                at=self.clock(),
            )
        except Rejection as rejection:
            conn.push_reply(encode(self._rejection(action_id, rejection, conn.lang)))
            return
        except Exception as exc:  # activity code raised: refuse, tell the facilitator
            self._fault("handle", exc, conn, action_id)
            return
        try:
            for event in events:
                self._tick.changes.add(self.workshop.apply(event))
        except Exception as exc:
            self._undo(exc, conn, action_id)
            return
        self._tick.events.extend(events)
        self._tick.urgent |= identity.role == "facilitator"
        seq = events[0].seq if events else 0
        self._reply_after_commit(conn, {"type": "ack", "id": action_id, "ok": True, "seq": seq})

    def _fault(self, stage: str, exc: Exception, conn: Connection, action_id: str) -> None:
        self.views.faults.record(self.workshop.current_step.activity.slug, stage, exc)
        refusal = Rejection(
            "activity_failed", N_("This step could not take your action; the facilitator is told.")
        )
        conn.push_reply(encode(self._rejection(action_id, refusal, conn.lang)))

    def _undo(self, exc: Exception, conn: Connection, action_id: str) -> None:
        """`reduce` raised half-way through an action's events: rebuild memory from the
        log and the tick's earlier events, without this action (replaying it after a
        restart would raise again). Nothing half-done is ever rendered or written."""
        self.workshop.rebuild(itertools.chain(self.store.replay(), self._tick.events))
        self.views.forget_personal()
        self._tick.changes.add(Changes(shared=True, all_participants=True))
        self._tick.urgent = True
        self._fault("reduce", exc, conn, action_id)

    def _rejection(self, action_id: str, rejection: Rejection, lang: str) -> dict[str, Any]:
        text = self.renderer.gettext(lang, rejection.message, rejection.params)
        error = {"code": rejection.code, "message": text}
        if "field" in rejection.params:
            error["field"] = rejection.params["field"]
        return {"type": "ack", "id": action_id, "ok": False, "error": error}

    def _reply_after_commit(self, conn: Connection, reply: dict[str, Any]) -> None:
        self._tick.replies.append((conn, encode(reply)))
        self._wake.set()

    def touch(self, audiences: set[str]) -> None:
        """Re-render some audiences' shared views on the next tick (e.g. connection counts)."""
        self._touched |= audiences
        self._wake.set()

    # -- the tick ----------------------------------------------------------------------
    async def run(self) -> None:
        collector = Collector()
        collector.start()
        if self.relay is not None:
            await self.relay.start()
        while True:
            await self._wake.wait()
            await asyncio.sleep(TICK_SECONDS)
            self._wake.clear()
            self.commit_tick()
            collector.after_tick(len(self.hub.connections), self.hub.closed_total)

    def commit_tick(self) -> None:
        tick, self._tick = self._tick, Tick()
        touched, self._touched = self._touched, set()
        if tick.events:
            try:
                self.store.append(tick.events)
            except Exception:
                # State already holds these events; only a restart (replaying the log)
                # makes memory and disk agree again. Nothing was acknowledged.
                log.critical("could not write events; stopping", exc_info=True)
                os._exit(70)
        for done in tick.committed:
            if not done.done():
                done.set_result(None)
        for conn, reply in tick.replies:
            if not conn.push_reply(reply):
                asyncio.ensure_future(conn.websocket.close(code=1008))
        try:
            wait = self.hub.flush(tick.changes, touched, tick.urgent, personal=not self.relay)
        except Exception:
            # Views render plugin code; a bug there must not stop the tick loop.
            log.exception("could not send the new views")
            wait = None
        if wait is not None:
            self._alarm.ring_in(wait)
        if self.relay is not None:
            # After the commit: the edges' acks and the shared views go out first; the
            # personal views (a step change renders one per phone: seconds for 100,000)
            # are rendered once those are in Redis, so the projector does not wait.
            self.relay.flush(tick.urgent)
            if tick.changes.participants or tick.changes.all_participants:
                self._personal_after_publish(tick.changes)
        for event in tick.events:
            self._notify(event)

    def _flush_remote_personal(self, changes: Changes) -> None:
        assert self.relay is not None
        try:
            self.hub.flush_personal(changes)
        except Exception:
            log.exception("could not send the new personal views")
        self.relay.flush()

    def _personal_after_publish(self, changes: Changes) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._flush_remote_personal(changes)  # start-up, or a test driving ticks by hand
            return
        task = loop.create_task(self._flush_remote_personal_soon(changes))
        self._background.add(task)  # kept referenced until done (asyncio holds weak refs)
        task.add_done_callback(self._background.discard)

    async def _flush_remote_personal_soon(self, changes: Changes) -> None:
        assert self.relay is not None
        await self.relay.bus.drained(PUBLISH_WAIT_SECONDS)
        self._flush_remote_personal(changes)

    def _notify(self, event: StoredEvent) -> None:
        # Each observer on its own: through pluggy, one that raises would silence the rest.
        arguments = {"event": event, "workshop": self.workshop}
        for impl in self.pm.hook.on_event.get_hookimpls():
            try:
                impl.function(*(arguments[name] for name in impl.argnames))
            except Exception:
                log.exception("on_event of %r failed for event %s", impl.plugin_name, event.seq)

    def close(self) -> None:
        self.commit_tick()
        self.store.close()


# What a facilitator may still do in a replay: move between steps and drive the screen.
RO_ACTIONS = frozenset({"next", "previous", "goto", "toggle_join", "toggle_blackout"})


def _allowed_in_replay(message: dict[str, Any]) -> bool:
    return message.get("step") is None and message.get("action") in RO_ACTIONS
