"""Helpers for the authorisation matrix (tests/test_authorisation_matrix.py): what the code
says may be sent (actions, message types, HTTP routes), the people who send it, plausible
data for every action, and an exact dump of the database to prove a refusal wrote nothing."""

from __future__ import annotations

import ast
import asyncio
import inspect
import itertools
import os
import sqlite3
import textwrap
import time
import uuid
from collections.abc import Mapping
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from palabre.engine import live
from palabre.engine.cli import resolve_kit_path
from palabre.engine.kits import Kit, load_kit
from palabre.engine.plugins import collect_activities, collect_kits, get_plugin_manager
from palabre.engine.roster import ROSTER_ACTIONS
from palabre.engine.workshop import WORKSHOP_ACTIONS
from support import Client, Server, read_events

WORKSHOP = "workshop"  # the key of workshop-level actions (`step: null`) in the tables


# -- what the code says ------------------------------------------------------------------------
def code_actions() -> dict[str, dict[str, frozenset[str]]]:
    """Every action the engine authorises, as the engine loads it: workshop-level actions
    (the workshop's and the roster's) and each built-in activity's `actions`. Installed
    third-party activities (the word-cloud example) answer to their own contract tests."""
    pm = get_plugin_manager(load_entry_points=False)
    found = {WORKSHOP: {**WORKSHOP_ACTIONS, **ROSTER_ACTIONS}}
    for slug, activity in collect_activities(pm).items():
        found[slug] = dict(activity.actions)
    return found


def code_message_types() -> set[str]:
    """The `type` values live.py dispatches on (`kind == "..."` in `_dispatch`)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(live.LiveEndpoint._dispatch)))
    return {
        node.comparators[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Compare)
        and isinstance(node.left, ast.Name)
        and node.left.id == "kind"
        and isinstance(node.comparators[0], ast.Constant)
    }


def kits() -> dict[str, Kit]:
    pm = get_plugin_manager(load_entry_points=False)
    activities = collect_activities(pm)
    paths = collect_kits(pm)
    return {p.stem: load_kit(resolve_kit_path(p.stem, paths), activities) for p in paths}


def visits(preference: list[str]) -> list[tuple[str, str, str]]:
    """(kit, step id, activity) to play: each activity in the first preferred kit that has it,
    walking that kit from its first step (so every step opens with real inputs)."""
    all_kits = kits()
    wanted = set(code_actions()) - {WORKSHOP}
    plan: list[tuple[str, str, str]] = []
    for name in preference:
        steps = all_kits[name].steps
        mine = [s.index for s in steps if s.activity.slug in wanted]
        if mine:
            plan += [(name, s.id, s.activity.slug) for s in steps[: max(mine) + 1]]
            wanted -= {steps[i].activity.slug for i in mine}
    return plan


def uncovered(preference: list[str]) -> set[str]:
    return set(code_actions()) - {WORKSHOP} - {slug for _, _, slug in visits(preference)}


# -- the database ------------------------------------------------------------------------------
def db_dump(db: Path) -> list[str]:
    """Every table of the workshop file (schema, then each row in rowid order) as text."""
    with closing(sqlite3.connect(db)) as conn:
        lines = [repr(r) for r in conn.execute("SELECT * FROM sqlite_master ORDER BY name")]
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in sorted(tables):
            rows = conn.execute(f'SELECT * FROM "{table}" ORDER BY rowid').fetchall()
            lines += [f"{table}: {row!r}" for row in rows]
    return lines


def written(before: list[str], after: list[str]) -> str:
    """What changed between two dumps, short (empty: nothing)."""
    new = [line[:300] for line in after if line not in set(before)]
    lost = [line[:300] for line in before if line not in set(after)]
    return f"rows written: {new[:8]}; rows lost: {lost[:8]}" if new or lost else ""


def events_after(db: Path, seq: int) -> list[tuple[int, str, str]]:
    """(seq, actor, kind) of the events after `seq`; `seq` 0 gives the last one's number."""
    with closing(sqlite3.connect(db)) as conn:
        if not seq:
            return [(int(conn.execute("SELECT max(seq) FROM events").fetchone()[0]), "", "")]
        query = "SELECT seq, actor, kind FROM events WHERE seq > ? ORDER BY seq"
        return [(int(a), str(b), str(c)) for a, b, c in conn.execute(query, (seq,))]


def person_id(db: Path, name: str) -> str:
    joined = [
        e["actor"]
        for e in read_events(db)
        if e["kind"] == "participant.joined" and e["data"]["name"] == name
    ]
    assert len(joined) == 1, (name, joined)
    return str(joined[0])


# -- the people --------------------------------------------------------------------------------
def join(
    server: Server, name: str, table: int | None = None, captain: bool = False, jury: bool = False
) -> Client:
    """A phone that joined by the QR code (seated if the kit has tables) or the jury link."""
    client = Client(server, "participant")
    form = {"name": name} | ({"table": str(table)} if table else {})
    form |= {"captain": "on"} if captain else {}
    path = server.urls["jury"].removeprefix(server.base) if jury else f"/j/{server.join_code}"
    response = client.http.post(path, data=form)
    assert response.status_code == 200 and response.url.path == "/p", response.text[:500]
    return client


@dataclass
class Site:
    """One workshop and its people, joined once for the module (sockets are per test)."""

    server: Server
    kit: Kit
    people: dict[str, Client] = field(default_factory=dict)

    @classmethod
    def open(cls, server: Server, kit: Kit) -> Site:
        seated = kit.tables > 0
        site = cls(server, kit)
        site.people = {
            "facilitator": Client(server, "facilitator").login(),
            "screen": Client(server, "screen").login(),
            "participant": join(server, "Matrice", 1 if seated else None, captain=seated),
            "juror": join(server, "Juge", jury=True),
            "helper": join(server, "Voisine", 2 if seated else None, captain=seated),
        }
        return site

    def http_identities(self, other: Site) -> dict[str, dict[str, str]]:
        """The cookies each identity's browser holds ("other": another workshop's facilitator)."""
        p = self.people
        return {
            "none": {},
            "participant": {"palabre_p": str(p["participant"].cookie("palabre_p"))},
            "screen": {"palabre_s": str(p["screen"].cookie("palabre_s"))},
            "juror": {"palabre_p": str(p["juror"].cookie("palabre_p"))},
            "other": {"palabre_f": other.cookie("palabre_f")},
            "facilitator": {"palabre_f": self.cookie("palabre_f")},
        }

    def cookie(self, name: str) -> str:
        for client in self.people.values():
            if value := client.cookie(name):
                return value
        raise KeyError(name)

    async def connect(self, *who: str) -> dict[str, Client]:
        clients = {w: self.people[w].copy() for w in who}
        await asyncio.gather(*(c.connect() for c in clients.values()))
        return clients

    def close(self) -> None:
        for client in self.people.values():
            client.http.close()


# -- sending -----------------------------------------------------------------------------------
Act = tuple[str | None, str, Mapping[str, Any]]  # (step, action, data)


async def act_all(client: Client, acts: list[Act]) -> list[dict[str, Any]]:
    """Send acts back to back (the server takes one socket's messages in order) and return
    their acks in the same order. A `slow_down` refusal is resent with the same id later, as
    the browser does: these tests are about roles, not about the rate limit."""
    ids = [await client.send(action, dict(data), step) for step, action, data in acts]
    by_id = dict(zip(ids, acts, strict=True))
    for attempt in range(30):
        await client.wait_for(lambda: all(i in client.acks for i in ids))
        slow = [i for i in ids if client.acks[i].get("error", {}).get("code") == "slow_down"]
        if not slow:
            break
        await asyncio.sleep(0.2 + 0.1 * attempt)
        for action_id in slow:
            del client.acks[action_id]
            step, action, data = by_id[action_id]
            await client.send(action, dict(data), step, action_id)
    return [client.acks[i] for i in ids]


async def commit_barrier(client: Client, ok_id: str, act: Act) -> None:
    """Return once the server has finished a commit begun after everything sent so far:
    resending an acknowledged act (same id) writes nothing and is answered after the next
    commit, so a refusal that had written anyway would be on disk by then."""
    count = sum(a["id"] == ok_id for a in client.ack_log)
    step, action, data = act
    await client.send(action, dict(data), step, ok_id)
    await client.wait_for(lambda: sum(a["id"] == ok_id for a in client.ack_log) > count)


NOT_FOR_ROLE = {"forbidden", "unknown_action", "step_over", "slow_down"}


def split(spec: Mapping[str, frozenset[str]], cells: dict[str, list[Act]]) -> tuple[Any, Any]:
    """Each identity's acts (identity = role) cut into those its role may not send, and those
    it may."""
    return tuple(
        {who: [a for a in acts if (who in spec[a[1]]) == may] for who, acts in cells.items()}
        for may in (False, True)
    )


async def send_cells(
    clients: dict[str, Client], cells: dict[str, list[Act]], allowed: bool
) -> list[str]:
    """Send each identity's acts (all identities at once) and describe every answer that
    breaks the spec: a denied cell must get `forbidden`; an allowed one may be refused for its
    data, never for the role."""
    who = list(cells)
    answers = await asyncio.gather(*(act_all(clients[w], cells[w]) for w in who))
    broken = []
    for w, acks in zip(who, answers, strict=True):
        for (_, action, data), ack in zip(cells[w], acks, strict=True):
            code = None if ack["ok"] else ack["error"]["code"]
            if (code in NOT_FOR_ROLE) if allowed else (code != "forbidden"):
                broken.append(f"{w} {action} {data}: {ack}")
    return broken


class Pace:
    """A phone's share of the server's rate limit (per phone, across its sockets), kept under
    it so that tests sending many messages are never told to slow down."""

    def __init__(self) -> None:
        self.rate, self.burst = live.RATE_PER_SECOND * 0.75, live.BURST * 0.75
        self.tokens, self.stamp = self.burst, time.monotonic()

    async def take(self) -> None:
        while True:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1:
                self.tokens -= 1
                return
            await asyncio.sleep((1 - self.tokens) / self.rate)


# -- plausible data ----------------------------------------------------------------------------
_titles = itertools.count(1)


@dataclass
class Ctx:
    """Ids on the current step, read from the log, to fill every action's data."""

    step: str
    config: Any
    inputs: list[dict[str, Any]]
    posts: list[str]
    mine: str
    axes: list[str]
    me: str
    other: str

    @classmethod
    def read(cls, site: Site, step_id: str) -> Ctx:
        events = read_events(site.server.db)
        me = person_id(site.server.db, "Matrice")
        opened = [
            e
            for e in events
            if e["kind"] == "workshop.step_opened" and e["data"]["step"] == step_id
        ]
        here = [e for e in events if e["step"] == step_id]
        posted = [e for e in here if e["kind"].endswith(".posted")]
        key = {"diagnosis.posted": "problem"}
        post_ids = [e["data"][key.get(e["kind"], "idea")] for e in posted]
        return cls(
            step=step_id,
            config=site.kit.step(step_id).config,
            # A step without a `from` takes its items from the kit (dot-voting challenges).
            inputs=(opened[-1]["data"]["inputs"] if opened else [])
            or [i.model_dump() for i in getattr(site.kit.step(step_id).config, "items", [])],
            posts=post_ids,
            mine=next(
                (p for p, e in zip(post_ids, posted, strict=True) if e["actor"] == me), "absent"
            ),
            axes=[e["data"]["axis"] for e in here if e["kind"] == "axes.created"],
            me=me,
            other=person_id(site.server.db, "Voisine"),
        )

    def item(self, i: int) -> str:
        return str(self.inputs[i]["id"]) if i < len(self.inputs) else "absent"

    def post(self, i: int) -> str:
        return self.posts[i] if i < len(self.posts) else "absent"

    def axis(self, i: int) -> str:
        return self.axes[i] if i < len(self.axes) else "absent"

    def first(self, setting: str) -> str:
        values = getattr(self.config, setting, None) or []
        return str(values[0].id) if values else "absent"

    def theme(self) -> str:
        themes = [i.get("theme") for i in self.inputs if i.get("theme")]
        return self.first("themes") if hasattr(self.config, "themes") else (themes or [""])[0]

    def texts(self) -> dict[str, str]:
        """A new title (titles must differ), a description, and every extra field filled."""
        extra = {f.name: "Texte" for f in getattr(self.config, "extra_fields", [])}
        return {"title": f"Proposition {next(_titles)}", "description": "Pour tous."} | extra


def _posts(key: str) -> dict[str, Any]:
    return {
        "post": lambda c: c.texts() | {"frame": c.item(0), "theme": c.theme()},
        "edit": lambda c: c.texts() | {key: c.mine},
        "withdraw": lambda c: {key: c.mine},
        "hide": lambda c: {key: c.post(0)},
        "unhide": lambda c: {key: c.post(0)},
        "merge": lambda c: {key: c.post(0), "into": c.post(1)},
        "unmerge": lambda c: {key: c.post(0)},
    }


def _item(c: Ctx) -> dict[str, str]:
    return {"item": c.item(0)}


# Data for each action, by activity (absent: no data). Ids come from the step's log.
DATA: dict[str, dict[str, Any]] = {
    WORKSHOP: {
        "goto": lambda c: {"step": c.step},
        "set_next_steps": lambda c: {"text": c.texts()["title"]},
        "set_table": lambda c: {"participant": c.other, "table": "3"},
        "set_captain": lambda c: {"participant": c.other, "captain": "1"},
    },
    "ideation": _posts("idea"),
    "diagnosis": _posts("problem"),
    "axes": {
        "create": lambda c: {"name": c.texts()["title"], "items": c.item(min(len(c.axes), 1))},
        "rename": lambda c: {"axis": c.axis(0), "name": c.texts()["title"]},
        "set_theme": lambda c: {"axis": c.axis(0), "theme": c.theme()},
        "delete": lambda c: {"axis": c.axis(1)},
        "merge": lambda c: {"axis": c.axis(1), "into": c.axis(0)},
        "move": lambda c: {"item": c.item(0), "axis": c.axis(0)},
        "mark": lambda c: {"axis": c.axis(0), "mark": "retained"},
        "vote": lambda c: {"axis": c.axis(0)},
        "unvote": lambda c: {"axis": c.axis(0)},
    },
    "dot_voting": {"vote": _item, "unvote": _item},
    "jury": {
        "score": lambda c: _item(c) | {"criterion": c.first("criteria"), "score": "4"},
        "declare_conflict": _item,
        "withdraw_conflict": _item,
        "vote": _item,
        "unvote": _item,
    },
    "results": {
        "give_award": lambda c: _item(c) | {"award": c.first("awards")},
        "remove_award": _item,
    },
    "teams": {
        "join": _item,
        "rank": lambda c: {"choice1": c.item(0)},
        "pick": lambda c: _item(c) | {"table": "1"},
        "name_team": lambda c: {"name": "Les Castors", "team": f"team-{c.item(0)}"},
        "move": lambda c: {"participant": c.me, "team": f"team-{c.item(1)}"},
        "designate": lambda c: {"participant": c.me},
    },
    "pitches": {
        "add_time": lambda c: {"seconds": "30"},
        "skip": lambda c: {"mode": "later", "item": c.item(0)},
        "move": lambda c: {"item": c.item(0), "direction": "down"},
    },
}

# What to create first so that the matrix's ids name real things: (who, action) in order.
SEEDS: dict[str, list[tuple[str, str]]] = {
    "ideation": [("helper", "post"), ("participant", "post")],
    "diagnosis": [("helper", "post"), ("participant", "post")],
    "axes": [("facilitator", "create"), ("facilitator", "create")],
}


def data_for(slug: str, action: str, ctx: Ctx) -> dict[str, Any]:
    make = DATA.get(slug, {}).get(action)
    return dict(make(ctx)) if make else {}


# -- HTTP --------------------------------------------------------------------------------------
def code_routes(db: Path, env: dict[str, str]) -> dict[tuple[str, str], Any]:
    """(method, path) -> route of the app built as `palabre serve` builds it, under the
    servers' environment ("WS" for the socket, "GET" for a static mount)."""
    from starlette.routing import Mount, WebSocketRoute

    from palabre.engine.server import Serving, build_service

    pm = get_plugin_manager()
    activities = collect_activities(pm)
    kit = load_kit(resolve_kit_path("quick-start", collect_kits(pm)), activities)
    saved = os.environ.copy()
    os.environ.update(env)
    try:
        service, app = build_service(pm, db, kit, activities, Serving())
    finally:
        os.environ.clear()
        os.environ.update(saved)
    found: dict[tuple[str, str], Any] = {}
    try:
        for route in app.routes:
            if isinstance(route, Mount):
                found["GET", route.path] = route
            elif isinstance(route, WebSocketRoute):
                found["WS", route.path] = route
            else:
                found |= {(m, route.path): route for m in route.methods - {"HEAD"}}
    finally:
        service.store.close()
    return found


def links(server: Server) -> dict[str, str]:
    """The secret-bearing paths of one workshop, filled with its own secrets."""
    secret = {k: v.rsplit("/", 1)[-1] for k, v in server.urls.items()}
    return {
        "/f/{secret}": f"/f/{secret['facilitator']}",
        "/s/{token}": f"/s/{secret['screen']}",
        "/jury/{token}": f"/jury/{secret['jury']}",
        "/j/{code}": f"/j/{secret['join']}",
    }


def concrete(path: str, route: Any, server: Server) -> str:
    """A real URL for a route: its secrets filled in, a real file under a static mount."""
    if path in links(server):
        return links(server)[path]
    if path == "/lang/{lang}":
        return "/lang/en?next=/p"
    directory = getattr(getattr(route, "app", None), "directory", None)
    if directory is not None:
        first = sorted(p.name for p in Path(directory).iterdir() if p.is_file())[0]
        return f"{path}/{first}"
    assert "{" not in path, f"{path}: say how to fill this route's parameters"
    return path


def status(http: Any, method: str, url: str, cookies: dict[str, str]) -> int:
    """One request from a browser holding exactly these cookies (none kept from before)."""
    http.cookies.clear()
    for name, value in cookies.items():
        http.cookies.set(name, value)
    if method == "POST":
        return int(http.post(url, data={"name": "Passant"}).status_code)
    return int(http.request(method, url).status_code)


async def post_ideas(client: Client, step: str, count: int) -> list[str]:
    acts: list[Act] = [
        (step, "post", {"title": f"Idée {uuid.uuid4().hex[:8]}"}) for _ in range(count)
    ]
    acks = await act_all(client, acts)
    assert all(a["ok"] for a in acks), acks
    events = {e["seq"]: e for e in read_events(client.server.db)}
    return [events[a["seq"]]["data"]["idea"] for a in acks]


# -- random messages ---------------------------------------------------------------------------
KEYS = "idea into item title description step participant table captain axis name theme".split()
TEXT = st.text(st.characters(exclude_categories=()), max_size=30)  # lone surrogates too
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)


@dataclass
class Phone:
    """A joined phone for random tests: an acknowledged act of its own (for commit barriers)
    and its share of the rate limit."""

    client: Client
    pid: str
    ok_id: str
    ok_act: Act
    pace: Pace = field(default_factory=Pace)


async def ready_phones(site: Site, count: int) -> list[Phone]:
    clients = [join(site.server, f"Hasard {i}") for i in range(count)]
    sockets = await asyncio.gather(*(c.copy().connect() for c in clients))
    phones = []
    try:
        for i, (client, socket) in enumerate(zip(clients, sockets, strict=True)):
            act: Act = ("ideas", "post", {"title": f"Sentinelle {i}"})
            [ack] = await act_all(socket, [act])
            assert ack["ok"], ack
            pid = person_id(site.server.db, f"Hasard {i}")
            phones.append(Phone(client, pid, ack["id"], act))
    finally:
        await asyncio.gather(*(s.close() for s in sockets), return_exceptions=True)
    return phones
