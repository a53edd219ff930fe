"""The authorisation matrix (RELIABILITY rows 2 and 5): every message kind and every HTTP
route, for every identity — no cookie, participant, screen, juror, the facilitator of another
workshop, the facilitator — against real servers.

The lists come from the code (each activity's `actions`, the workshop's and the roster's,
the message types live.py dispatches, the Starlette app's routes), and the expected answers
are written out below by hand as the spec: a new action, message type or route without a row
fails, and so does a role the code widened on its own. A refused cell must be refused with
`forbidden` (or at the handshake) and leave the whole database byte-identical; an allowed
cell may be refused for its data, never for the role. Ids of another workshop are refused
with a clear error and write nothing (row 5). Last, a Hypothesis state machine sends random
participant messages and checks that none reaches a facilitator's power.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections import Counter
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from matrix_support import (
    JSON,
    KEYS,
    SEEDS,
    TEXT,
    WORKSHOP,
    Act,
    Ctx,
    Phone,
    Site,
    act_all,
    code_actions,
    code_message_types,
    code_routes,
    commit_barrier,
    concrete,
    data_for,
    db_dump,
    events_after,
    kits,
    links,
    person_id,
    post_ideas,
    ready_phones,
    send_cells,
    split,
    status,
    uncovered,
    visits,
    written,
)

from palabre.engine.live import AUDIENCES
from support import close_all, handshake_status, run

F, P, J = frozenset({"facilitator"}), frozenset({"participant"}), frozenset({"juror"})

# The spec: who may send each action (docs/protocol.md). One row per action of the code.
# fmt: off
EXPECTED: dict[str, dict[str, frozenset[str]]] = {
    WORKSHOP: {
        "next": F, "previous": F, "goto": F, "toggle_join": F, "toggle_blackout": F,
        "set_next_steps": F, "set_table": F, "set_captain": F,
    },
    "ideation": {
        "post": P, "edit": P, "withdraw": P,
        "hide": F, "unhide": F, "merge": F, "unmerge": F, "close": F, "reopen": F,
    },
    "diagnosis": {
        "post": P, "edit": P, "withdraw": P,
        "hide": F, "unhide": F, "merge": F, "unmerge": F, "close": F, "reopen": F,
    },
    "axes": {
        "create": F, "rename": F, "set_theme": F, "delete": F, "merge": F, "move": F,
        "open_vote": F, "close_vote": F, "reopen_vote": F, "back_to_grouping": F, "mark": F,
        "vote": P, "unvote": P,
    },
    "dot_voting": {
        "vote": P, "unvote": P,
        "close": F, "reopen": F, "reveal": F, "hide_results": F, "reset": F,
    },
    "jury": {
        "score": J, "declare_conflict": J, "withdraw_conflict": J,
        "vote": P, "unvote": P,
        "close": F, "reopen": F, "reveal": F, "hide_results": F,
    },
    "results": {"give_award": F, "remove_award": F, "publish": F, "unpublish": F},
    "teams": {
        "join": P, "leave": P, "rank": P, "volunteer": P,
        "pick": F | P, "name_team": F | P,
        "close": F, "reopen": F, "assign": F, "move": F, "designate": F,
    },
    "pitches": {
        "start": F, "pause": F, "resume": F, "add_time": F, "reset": F, "done": F,
        "skip": F, "next": F, "previous": F, "move": F,
    },
}
# fmt: on
# Message types besides `act` (whose cells are the actions above): any socket may send them.
MESSAGES = {"act", "ping", "resync"}
# Kits that play the steps, in order of preference (the day kit, then the short ones).
PREFERENCE = ["citizen-hackathon-day", "quick-start", "challenge-shortlist"]
VISITS = visits(PREFERENCE)
WITH_SOCKET = ("participant", "screen", "juror", "facilitator")  # identity = its role
SERVER_ENV = {"PALABRE_TEST_CLOCK": "1"}  # its route is in the HTTP matrix too


@pytest.fixture(scope="module")
def sites(module_servers: Any) -> Any:
    """`sites(name)`: a kit's server with its people, started on first use; "other" is a
    second quick-start workshop (another database, other secrets)."""
    opened: dict[str, Site] = {}
    all_kits = kits()

    def get(name: str) -> Site:
        if name not in opened:
            kit = "quick-start" if name == "other" else name
            server = module_servers(name, kit=kit, env=SERVER_ENV)
            opened[name] = Site.open(server, all_kits[kit])
        return opened[name]

    yield get
    for site in opened.values():
        site.close()


# -- the tables match the code ---------------------------------------------------------------------
def test_the_spec_has_a_row_for_every_action_and_message_type_of_the_code() -> None:
    code = code_actions()
    assert set(EXPECTED) == set(code), "add or remove an activity in EXPECTED"
    for slug, actions in code.items():
        assert set(EXPECTED[slug]) == set(actions), (
            f"{slug}: add a row to EXPECTED for each new action (and its roles) — "
            f"missing {sorted(set(actions) - set(EXPECTED[slug]))}, "
            f"gone {sorted(set(EXPECTED[slug]) - set(actions))}"
        )
    assert code_message_types() == MESSAGES, "live.py dispatches a message type with no row"


def test_no_role_in_the_code_is_wider_or_narrower_than_the_spec() -> None:
    code = code_actions()
    differ = {
        (slug, action): (sorted(roles), sorted(EXPECTED[slug].get(action, ())))
        for slug, actions in code.items()
        for action, roles in actions.items()
        if frozenset(roles) != EXPECTED.get(slug, {}).get(action)
    }
    assert not differ, f"(activity, action): (code's roles, spec's roles): {differ}"


def test_every_activity_is_played_on_a_step_of_a_kit() -> None:
    assert not uncovered(PREFERENCE), "add a kit with this activity to PREFERENCE"


# -- handshakes ----------------------------------------------------------------------------------
def test_no_cookie_and_another_workshops_facilitator_open_no_socket(sites: Any) -> None:
    """Refused at the handshake, they can send no message kind at all."""
    other = sites("other")
    foreign = f"palabre_f={other.cookie('palabre_f')}"
    paths = [f"/ws?as={a}" for a in AUDIENCES] + ["/ws?as=screen&preview=1"]

    async def statuses(site: Site, cookie: str) -> list[int]:
        return list(
            await asyncio.gather(
                *(handshake_status(site.server, "", cookie, path=p) for p in paths)
            )
        )

    for name in PREFERENCE:
        site = sites(name)
        before = db_dump(site.server.db)
        assert run(statuses(site, "")) == [403] * len(paths), name
        assert run(statuses(site, foreign)) == [403] * len(paths), name
        assert not written(before, db_dump(site.server.db)), name
    # The same cookie opens its own workshop's sockets: the refusal is about the workshop.
    home = dict(zip(paths, run(statuses(other, foreign)), strict=True))
    assert home == {p: 403 if p == "/ws?as=participant" else 101 for p in paths}, home


def test_every_socket_may_ping_and_resync_and_that_writes_nothing(sites: Any) -> None:
    site = sites("quick-start")

    async def main() -> None:
        clients = await site.connect(*WITH_SOCKET)
        try:
            before = db_dump(site.server.db)
            for who, client in clients.items():
                views = len(client.views)
                await client.send_raw('{"type": "ping"}')
                await client.send_raw('{"type": "resync"}')
                await client.wait_for(lambda c=client, v=views: c.pongs and len(c.views) > v)
                assert not client.errors and not client.acks, who
            assert not written(before, db_dump(site.server.db))
        finally:
            await close_all(*clients.values())

    run(main())


# -- every action × every identity, on a step of its activity --------------------------------------
@pytest.mark.parametrize(("kit", "step", "slug"), VISITS, ids=[f"{k}/{s}" for k, s, _ in VISITS])
def test_each_role_may_send_its_actions_and_no_other_on_every_step(
    sites: Any, kit: str, step: str, slug: str
) -> None:
    site, spec = sites(kit), EXPECTED[slug]

    async def main() -> None:
        c = await site.connect(*WITH_SOCKET, "helper")
        try:
            goto: Act = (None, "goto", {"step": step})
            [moved] = await act_all(c["facilitator"], [goto])
            assert moved["ok"], moved
            for who, action in SEEDS.get(slug, []):  # things for the ids to name
                ctx = Ctx.read(site, step)
                [ack] = await act_all(c[who], [(step, action, data_for(slug, action, ctx))])
                assert ack["ok"], (who, action, ack)
            ctx = Ctx.read(site, step)
            acts = [(step, a, data_for(slug, a, ctx)) for a in spec]
            denied, allowed = split(spec, dict.fromkeys(WITH_SOCKET, acts))
            assert sum(map(len, denied.values())) >= len(spec), "every action has a denied role"
            before = db_dump(site.server.db)
            bad = await send_cells(c, denied, allowed=False)
            await commit_barrier(c["facilitator"], moved["id"], goto)
            assert not bad, f"denied cells not refused as forbidden: {bad}"
            assert not written(before, db_dump(site.server.db))
            # Allowed cells: people first (the facilitator's close/delete come after them).
            for group in (("participant", "juror", "screen"), ("facilitator",)):
                bad = await send_cells(c, {w: allowed[w] for w in group}, allowed=True)
                assert not bad, f"allowed cells refused for the role: {bad}"
        finally:
            await close_all(*c.values())

    run(main())


def test_workshop_actions_are_the_facilitators_alone(sites: Any) -> None:
    site = sites(PREFERENCE[0])
    last = site.kit.steps[-1].id

    async def main() -> None:
        c = await site.connect(*WITH_SOCKET)
        try:
            goto: Act = (None, "goto", {"step": last})
            [moved] = await act_all(c["facilitator"], [goto])
            assert moved["ok"], moved
            ctx = Ctx.read(site, site.kit.steps[0].id)  # a goto that would move the step
            acts = [(None, a, data_for(WORKSHOP, a, ctx)) for a in EXPECTED[WORKSHOP]]
            denied, allowed = split(EXPECTED[WORKSHOP], dict.fromkeys(WITH_SOCKET, acts))
            before = db_dump(site.server.db)
            bad = await send_cells(c, denied, allowed=False)
            await commit_barrier(c["facilitator"], moved["id"], goto)
            assert not bad and not written(before, db_dump(site.server.db)), bad
            # `previous` moves: come back, and toggle the join code and blackout back.
            undo = [(None, "goto", {"step": last})] + [
                (None, a, {}) for a in ("toggle_join", "toggle_blackout")
            ]
            fac = {"facilitator": allowed["facilitator"] + undo}
            assert not await send_cells(c, fac, allowed=True)
        finally:
            await close_all(*c.values())

    run(main())


# -- HTTP routes × identities ----------------------------------------------------------------------
IDENTITIES = ("none", "participant", "screen", "juror", "other", "facilitator")
# Status per identity, in the order above. "WS" is the handshake with the identity's audience.
# fmt: off
EXPECTED_HTTP: dict[tuple[str, str], tuple[int, ...]] = {
    ("GET", "/"): (200, 200, 200, 200, 200, 200),
    ("GET", "/j"): (303, 303, 303, 303, 303, 303),
    ("GET", "/j/{code}"): (200, 303, 200, 303, 200, 200),
    ("POST", "/j/{code}"): (303, 303, 303, 303, 303, 303),
    ("GET", "/jury/{token}"): (200, 303, 200, 303, 200, 200),
    ("POST", "/jury/{token}"): (303, 303, 303, 303, 303, 303),
    ("GET", "/p"): (303, 200, 303, 200, 303, 303),
    ("GET", "/f/{secret}"): (303, 303, 303, 303, 303, 303),
    ("GET", "/facilitator"): (403, 403, 403, 403, 403, 200),
    ("GET", "/s/{token}"): (303, 303, 303, 303, 303, 303),
    ("GET", "/screen"): (403, 403, 200, 403, 403, 200),
    ("GET", "/lang/{lang}"): (303, 303, 303, 303, 303, 303),
    ("GET", "/-/plugins.json"): (200, 200, 200, 200, 200, 200),
    ("GET", "/-/health"): (200, 200, 200, 200, 200, 200),
    ("WS", "/ws"): (403, 101, 101, 101, 403, 101),
    ("POST", "/-/test/clock"): (403, 403, 403, 403, 403, 200),
    # The results report and the exports: the facilitator's only (docs/export.md).
    ("GET", "/report"): (403, 403, 403, 403, 403, 200),
    **{("GET", f"/report/export.{f}"): (403, 403, 403, 403, 403, 200)
       for f in ("json", "zip", "md", "xlsx", "sqlite")},
    **{("GET", f"/-/static{s}"): (200,) * 6 for s in (
        "", "/axes", "/diagnosis", "/ideation", "/jury", "/pitches", "/results", "/teams",
        "/word_cloud")},  # the example package, installed by the test command
}
# The audience each identity opens its socket as (its cookie's).
AUDIENCE = {"none": "participant", "participant": "participant", "screen": "screen",
            "juror": "participant", "other": "facilitator", "facilitator": "facilitator"}
# fmt: on
# Cells that write, and what: a person without a phone cookie joins (one participant.joined).
JOINS = {("POST", "/j/{code}"), ("POST", "/jury/{token}")}
WITH_PHONE = {"participant", "juror"}
SECRET_PARAMS, PLAIN_PARAMS = {"secret", "token", "code"}, {"lang"}


@pytest.fixture(scope="module")
def routes(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Any]:
    return code_routes(tmp_path_factory.mktemp("routes") / "routes.db", SERVER_ENV)


def test_the_http_spec_has_a_row_for_every_route_of_the_app(routes: dict[Any, Any]) -> None:
    assert set(EXPECTED_HTTP) == set(routes), (
        f"add a row to EXPECTED_HTTP for {sorted(set(routes) - set(EXPECTED_HTTP))}; "
        f"remove {sorted(set(EXPECTED_HTTP) - set(routes))}"
    )
    params = {p for _, path in routes for p in path.split("/") if p.startswith("{")}
    assert {p.strip("{}") for p in params} <= SECRET_PARAMS | PLAIN_PARAMS, params


def test_every_route_answers_each_identity_as_the_spec_says(
    sites: Any, routes: dict[Any, Any]
) -> None:
    site, db = sites("quick-start"), sites("quick-start").server.db
    cookies = site.http_identities(sites("other"))
    got: dict[tuple[str, str], tuple[int, ...]] = {}
    with httpx.Client(base_url=site.server.base, follow_redirects=False, timeout=20) as http:
        for (method, path), route in sorted(routes.items()):
            url, row = concrete(path, route, site.server), []
            for who in IDENTITIES:
                before = db_dump(db)
                if method == "WS":
                    header = "; ".join(f"{k}={v}" for k, v in cookies[who].items())
                    row.append(run(handshake_status(site.server, AUDIENCE[who], header)))
                else:
                    row.append(status(http, method, url, cookies[who]))
                change = written(before, db_dump(db))
                if (method, path) in JOINS and who not in WITH_PHONE:
                    assert change.count("participant.joined") == 1, (method, path, who, change)
                    assert "rows lost: []" in change and change.count("events: (") == 1, change
                else:
                    assert not change, (method, path, who, change)
            got[method, path] = tuple(row)
    wrong = {k: (v, EXPECTED_HTTP[k]) for k, v in got.items() if v != EXPECTED_HTTP.get(k)}
    assert not wrong, f"(method, path): (got, spec) for {IDENTITIES}: {wrong}"


# A rate limit answers 429 after many wrong secrets from one client: each test stays well under
# it (at most 5), on a server of its own.
@pytest.mark.parametrize(("method", "kit"), [("GET", "quick-start"), ("POST", PREFERENCE[0])])
def test_a_link_with_another_workshops_secret_gives_404_and_writes_nothing(
    sites: Any, routes: dict[Any, Any], method: str, kit: str
) -> None:
    site, other = sites(kit), sites("other")
    secret_routes = [
        path for m, path in routes if m == method and any(f"{{{p}}}" in path for p in SECRET_PARAMS)
    ]
    assert 0 < len(secret_routes) <= 5, secret_routes
    before, foreign = db_dump(site.server.db), site.http_identities(other)["other"]
    with httpx.Client(base_url=site.server.base, follow_redirects=False, timeout=20) as http:
        got = {
            path: status(http, method, links(other.server)[path], foreign) for path in secret_routes
        }
    assert got == dict.fromkeys(secret_routes, 404), got
    assert not written(before, db_dump(site.server.db))


# -- row 5: ids of workshop B sent to workshop A ---------------------------------------------------
def test_ids_of_another_workshop_are_refused_clearly_and_write_nothing(sites: Any) -> None:
    a, b = sites("quick-start"), sites("other")

    async def main() -> None:
        there = await b.connect("helper")
        here = await a.connect("facilitator", "participant")
        try:
            b0, b1 = await post_ideas(there["helper"], "ideas", 2)
            stranger = person_id(b.server.db, "Voisine")
            goto: Act = (None, "goto", {"step": "ideas"})
            [moved] = await act_all(here["facilitator"], [goto])
            [mine] = await post_ideas(here["participant"], "ideas", 1)
            # fmt: off
            cells = [  # (who, step, action, data, error code)
                ("participant", "ideas", "edit", {"idea": b0, "title": "Pris"}, "unknown_idea"),
                ("participant", "ideas", "withdraw", {"idea": b0}, "unknown_idea"),
                ("facilitator", "ideas", "hide", {"idea": b0}, "unknown_idea"),
                ("facilitator", "ideas", "unhide", {"idea": b0}, "unknown_idea"),
                ("facilitator", "ideas", "merge", {"idea": b0, "into": mine}, "unknown_idea"),
                ("facilitator", "ideas", "merge", {"idea": mine, "into": b1}, "unknown_idea"),
                ("facilitator", "ideas", "unmerge", {"idea": b0}, "unknown_idea"),
                ("facilitator", None, "set_table", {"participant": stranger, "table": "1"},
                 "unknown_participant"),
                ("facilitator", None, "set_captain", {"participant": stranger, "captain": "1"},
                 "unknown_participant"),
                ("participant", "vote", "vote", {"item": b0}, "unknown_item"),
                ("participant", "vote", "unvote", {"item": b1}, "unknown_item"),
            ]
            # fmt: on
            for on_step in ("ideas", "vote"):
                goto = (None, "goto", {"step": on_step})
                [moved] = await act_all(here["facilitator"], [goto])
                before = db_dump(a.server.db)
                mine_here = [c for c in cells if c[1] in (on_step, None)]
                for who, step, action, data, code in mine_here:
                    [ack] = await act_all(here[who], [(step, action, data)])
                    assert not ack["ok"] and ack["error"]["code"] == code, (action, data, ack)
                    assert len(ack["error"]["message"]) >= 10, ack
                await commit_barrier(here["facilitator"], moved["id"], goto)
                assert not written(before, db_dump(a.server.db))
                cells = [c for c in cells if c not in mine_here]
            assert not cells
        finally:
            await close_all(*there.values(), *here.values())

    run(main())


# -- random participant messages -------------------------------------------------------------------
LONG = os.environ.get("PALABRE_LONG") == "1"
# The only events a participant's own messages may cause on the ideas step.
PARTICIPANT_KINDS = {"ideation.posted", "ideation.edited", "ideation.withdrawn"}
NAMES = sorted({a for actions in code_actions().values() for a in actions})
# Every (step, action) of the kit's steps and workshop-level, as the code lists them.
SENDABLE = [(None, a) for a in sorted(code_actions()[WORKSHOP])] + [
    (s.id, a) for s in kits()["quick-start"].steps for a in sorted(code_actions()[s.activity.slug])
]
PHONES = 8  # examples take turns: each phone's rate allowance has time to refill


class RandomPhone(RuleBasedStateMachine):
    """A participant's phone sending anything at all to a quick-start workshop."""

    site: Site
    phones: list[Phone]  # examples take turns
    turn = 0
    answers: Counter[str] = Counter()  # ack codes over the whole run, printed at the end
    real_ids: list[str]  # ideas of someone else: the targets of forged moderation
    plausible: dict[tuple[Any, str], dict[str, Any]]  # as in the matrix, for SENDABLE

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        RandomPhone.turn += 1
        self.me = self.phones[self.turn % len(self.phones)]
        # What this example may not change (a failing example is then reported on its own).
        [(self.start_seq, _, _)] = events_after(self.site.server.db, 0)
        self.step = self._health()["step"]
        self._open()

    def _health(self) -> dict[str, Any]:
        health = httpx.get(f"{self.site.server.base}/-/health", timeout=20)
        assert health.status_code == 200, health.text
        return dict(health.json())

    def _run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(asyncio.wait_for(coro, 60))

    def _open(self) -> None:
        self.phone = self.me.client.copy()
        self._run(self.phone.connect())
        self.sent: Counter[str] = Counter()  # act id -> times sent on this socket
        self.acts: dict[str, Act] = {}

    def _check_and_close(self) -> None:
        """Every act sent on this socket got exactly one ack per sending."""
        self._run(self.me.pace.take())
        self._run(commit_barrier(self.phone, self.me.ok_id, self.me.ok_act))
        acks = [a for a in self.phone.ack_log if a["id"] != self.me.ok_id]
        got = Counter(a["id"] for a in acks)
        self.answers.update(a["error"]["code"] if not a["ok"] else "ok" for a in acks)
        assert got == self.sent, f"acks per id {got} for sendings {self.sent}"
        self._run(self.phone.close())

    def _send(self, step: Any, action: Any, data: Any, action_id: str | None = None) -> None:
        phone, action_id = self.phone, action_id or uuid.uuid4().hex
        self.sent[action_id] += 1
        self.acts[action_id] = (step, action, data)
        message = {"type": "act", "id": action_id, "step": step, "action": action, "data": data}
        self._run(self.me.pace.take())
        self._run(phone.send_raw(json.dumps(message)))
        expected = self.sent[action_id]
        self._run(
            phone.wait_for(lambda: sum(a["id"] == action_id for a in phone.ack_log) >= expected)
        )

    @rule(
        action=st.sampled_from(NAMES) | st.text(max_size=70),
        step=st.sampled_from([None, "ideas", "vote"]) | st.text(max_size=70) | st.integers(),
        data=st.dictionaries(st.sampled_from(KEYS) | TEXT, JSON, max_size=4) | JSON,
    )
    def act(self, action: str, step: Any, data: Any) -> None:
        self._send(step, action, data)

    @rule(where=st.sampled_from(SENDABLE), draw=st.data())
    def act_on_a_real_step_with_plausible_data(self, where: tuple[Any, str], draw: Any) -> None:
        """The matrix's plausible data (real ids of someone else's ideas), some keys changed."""
        values = st.sampled_from(self.real_ids) | TEXT
        changed = draw.draw(st.dictionaries(st.sampled_from(KEYS), values, max_size=2))
        self._send(*where, self.plausible[where] | changed)

    @rule()
    def resend_an_earlier_act(self) -> None:
        if self.acts:
            action_id = sorted(self.acts)[0]
            self._send(*self.acts[action_id], action_id=action_id)

    @rule(
        frame=st.text(max_size=200)
        | st.binary(max_size=64)
        | JSON.map(json.dumps)
        | st.sampled_from(['{"type": "ping"}', '{"type": "resync"}'])
    )
    def raw_frame(self, frame: str | bytes) -> None:
        self._run(self.me.pace.take())
        self._run(self.phone.send_raw(frame))

    @rule()
    def reconnect(self) -> None:
        self._check_and_close()
        self._open()

    @invariant()
    def only_the_phones_own_events_are_written(self) -> None:
        pids = {phone.pid for phone in self.phones}
        new = events_after(self.site.server.db, self.start_seq)
        wrong = [e for e in new if e[1] not in pids or e[2] not in PARTICIPANT_KINDS]
        assert not wrong, f"(seq, actor, kind) not from a phone's own action: {wrong}"

    def teardown(self) -> None:
        try:
            self._check_and_close()
            assert self._health()["step"] == self.step, "the server is down or moved on"
        finally:
            self.loop.close()


def test_random_participant_messages_never_reach_a_facilitators_power(sites: Any) -> None:
    site = sites("other")  # nobody drives it: it stays on its first step, "ideas"

    async def prepare() -> list[Phone]:
        c = await site.connect("helper")
        RandomPhone.real_ids = await post_ideas(c["helper"], "ideas", 2)
        await close_all(*c.values())
        return await ready_phones(site, PHONES)

    RandomPhone.site, RandomPhone.phones = site, run(prepare())
    ctx = Ctx.read(site, "ideas")
    RandomPhone.plausible = {
        (step, a): data_for(site.kit.step(step).activity.slug if step else WORKSHOP, a, ctx)
        for step, a in SENDABLE
    }
    try:
        run_state_machine_as_test(
            RandomPhone,
            settings=settings(
                max_examples=200 if LONG else 10,
                stateful_step_count=50 if LONG else 20,
                deadline=None,
                suppress_health_check=list(HealthCheck),
            ),
        )
    finally:
        for phone in RandomPhone.phones:
            phone.client.http.close()
    print(f"random phones: {RandomPhone.answers.total()} acks: {dict(RandomPhone.answers)}")
