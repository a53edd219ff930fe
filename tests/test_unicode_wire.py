"""Unicode abuse (RELIABILITY row 7): any text, from anywhere in Unicode, gets a clear answer.

Lone surrogates (`"\\ud800"` passes `json.loads`, then breaks the SQLite insert), bidi
overrides, zero-width-only text, 25-byte emoji, accents stacked by the hundred. Proven:

- 10,000 Hypothesis texts through `clean_text` raise nothing but a Rejection, and what it
  keeps is valid UTF-8, NFC, trimmed, free of bidi controls, within its limits in grapheme
  clusters and in bytes, and stable when cleaned again;
- over the wire of a real server, the same texts in every text field (idea title,
  description and extra fields, diagnosis problem, team name by its captain and by the
  facilitator, axis name, the join form's name over HTTP) and in the message envelope (`id`,
  `step`, `action`, `data`) each get an answer (an ack, or an error with a documented code),
  accepted text is stored exactly as the validator returns it, the server logs no traceback
  and `/-/health` stays 200; a text frame that is not UTF-8 closes the socket with 1007;
- limits hold in graphemes and bytes over the wire; look-alike titles (é and e + ◌́) collide
  as duplicates; empty-looking text is refused;
- every user text on the phone, the screen and the panel sits alone in its own bidi isolate
  (`dir="auto"` or `<bdi>`), so a right-to-left name cannot reorder the words around it.

By default 300 texts go over the wire; PALABRE_LONG=1 sends 10,000.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import time
import tomllib
import unicodedata
import uuid
from collections import Counter
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote_from_bytes

import grapheme
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from xss_payloads import ANY_TEXT, BIDI, KIT, SURROGATE, json_values

from palabre.engine import Rejection, clean_text
from palabre.engine.text import MAX_CLUSTER_BYTES
from palabre.plugins.common.posts import Limits, clean_texts
from palabre.plugins.diagnosis.activity import DiagnosisConfig
from palabre.plugins.ideation.activity import IdeationConfig
from support import Client, Server, eventually, read_events, run

LONG = os.environ.get("PALABRE_LONG") == "1"
ROOT = Path(__file__).parent.parent
CODES = set(re.findall(r"`([a-z][a-z_]+)`", (ROOT / "docs/protocol.md").read_text("utf-8")))
STEPS = {step["id"]: step.get("config", {}) for step in tomllib.loads(KIT)["steps"]}
IDEAS_CONFIG = IdeationConfig(**STEPS["idees"])
IDEAS = Limits(IDEAS_CONFIG.max_title, IDEAS_CONFIG.max_description, IDEAS_CONFIG.extra_fields)
PROBLEMS_CONFIG = DiagnosisConfig(**STEPS["problemes"])
PROBLEMS = Limits(PROBLEMS_CONFIG.max_title, PROBLEMS_CONFIG.max_description)


def settled(text: str, *, required: bool, multiline: bool, limit: int) -> None:
    """What `clean_text` keeps is safe to store and to show."""
    text.encode("utf-8")  # no surrogate left
    assert unicodedata.is_normalized("NFC", text), ascii(text)
    assert text == text.strip() and not set(text) & set(BIDI), ascii(text)
    assert all(c == "\n" and multiline or unicodedata.category(c) != "Cc" for c in text)
    clusters = list(grapheme.graphemes(text))
    assert len(clusters) <= limit and len(text.encode("utf-8")) <= limit * 32
    assert all(len(c.encode("utf-8")) <= MAX_CLUSTER_BYTES for c in clusters)
    visible = {unicodedata.category(c) for c in text} - {"Cf", "Zs", "Zl", "Zp", "Cc", "Mn", "Me"}
    assert visible or (not required and text == ""), ascii(text)


@settings(max_examples=1_000, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(
        st.tuples(ANY_TEXT, st.booleans(), st.booleans(), st.sampled_from([1, 40, 280])),
        min_size=10,
        max_size=10,
    )
)
def test_ten_thousand_texts_through_the_validator_are_kept_clean_or_refused_cleanly(
    batch: list[tuple[str, bool, bool, int]],
) -> None:
    """1,000 examples of 10 texts each (batched: Hypothesis spends its time per example)."""
    for text, required, multiline, limit in batch:
        options = dict(field="f", max_graphemes=limit, required=required, multiline=multiline)
        try:
            kept = clean_text(text, **options)
        except Rejection as rejection:
            assert rejection.code in {"invalid_text", "too_long", "empty_text"}
            assert rejection.params["field"] == "f"
            assert rejection.code == "invalid_text" or not SURROGATE.search(text)
            continue
        settled(kept, required=required, multiline=multiline, limit=limit)
        assert clean_text(kept, **options) == kept  # cleaning again changes nothing


# -- a real server, driven one message at a time -----------------------------------------------
ANSWERS: Counter[str] = Counter()  # every answer over the wire, by code ("ok" if accepted)


class Wire:
    """One socket, one message at a time (Hypothesis examples are synchronous); paced below a
    phone's fair rate (engine/live.py: a burst of 40, then 20 a second)."""

    def __init__(self, server: Server, client: Client) -> None:
        self.audience = client.audience
        url = server.base.replace("http", "ws", 1) + f"/ws?as={client.audience}"
        self.ws: ClientConnection = connect(
            url,
            origin=server.base,  # type: ignore[arg-type]
            additional_headers={"Cookie": client.cookie_header()},
            max_size=2**22,
            open_timeout=20,
            legacy=True,
            # Always read (an idle phone's views must not stop its pongs) and never ping:
            # the server pings, and `drain` empties what piled up.
            max_queue=None,
            ping_interval=None,
        )
        self.tokens, self.stamp = 30.0, time.monotonic()

    def _pace(self) -> None:
        if self.audience == "facilitator":
            return
        now = time.monotonic()
        self.tokens = min(30.0, self.tokens + (now - self.stamp) * 15)
        self.stamp = now
        if self.tokens < 1:
            time.sleep((1 - self.tokens) / 15)
            self.tokens = 1
        self.tokens -= 1

    def ask(self, message: dict[str, Any] | str | bytes) -> dict[str, Any]:
        """Sends one message (json.dumps escapes lone surrogates as \\udxxx, as a browser's
        JSON.stringify does) and returns its answer: an ack or an error."""
        text = message if isinstance(message, str | bytes) else json.dumps(message)
        while True:
            self._pace()
            self.ws.send(text)
            while (answer := json.loads(self.ws.recv(timeout=20)))["type"] not in ("ack", "error"):
                pass
            code = (answer.get("error") or {}).get("code") or "ok"
            ANSWERS[code] += 1
            if code != "slow_down":
                return answer
            time.sleep(1)

    def drain(self) -> None:
        try:
            while True:
                self.ws.recv(timeout=0)
        except TimeoutError:
            pass

    def act(self, action: str, data: dict[str, Any], step: str | None) -> dict[str, Any]:
        action_id = uuid.uuid4().hex
        ack = self.ask(
            {"type": "act", "id": action_id, "step": step, "action": action, "data": data}
        )
        assert ack["type"] == "ack" and ack["id"] == action_id, ack
        return ack


@pytest.fixture(scope="module")
def room(tmp_path_factory: Any) -> Iterator[dict[str, Any]]:
    """One workshop for the fuzzing: the facilitator, three phones, and the event log."""
    kit = tmp_path_factory.mktemp("kit") / "unicode.toml"
    kit.write_text(KIT, encoding="utf-8")
    server = Server(kit.parent / "unicode.db", kit=str(kit)).start()
    facilitator = Client(server, "facilitator").login()
    phones = [Client(server, "participant").join(f"Phone {n}") for n in range(3)]
    wires = {"f": Wire(server, facilitator), "p": [Wire(server, p) for p in phones]}
    ack = wires["p"][2].act("post", {"title": "Une idée qui reste"}, "idees")  # one team
    log = sqlite3.connect(f"file:{server.db}?mode=ro", uri=True)
    with httpx.Client(timeout=20) as http:
        item = json.loads(
            log.execute("SELECT data FROM events WHERE seq = ?", (ack["seq"],)).fetchone()[0]
        )["idea"]
        yield {"server": server, "log": log, "http": http, "item": item, **wires}
    log.close()
    print(f"\nover the wire: {sum(ANSWERS.values())} answers, {dict(ANSWERS.most_common())}")
    later = "".join(server.later_output)  # before the stop, whose ^C is logged
    server.stop()
    assert not unexpected(later), unexpected(later)[-3000:]


def stored(room: dict[str, Any], ack: dict[str, Any]) -> dict[str, Any]:
    """The data of the first event an accepted action wrote."""
    row = room["log"].execute("SELECT data FROM events WHERE seq = ?", (ack["seq"],)).fetchone()
    assert row is not None, ack
    return dict(json.loads(row[0]))


# uvicorn (websockets-sansio) answers a text frame that is not UTF-8 with close 1007, as it
# should, but logs it with a full traceback: known, not ours, counted apart.
UVICORN_UTF8 = re.compile(
    r"ERROR uvicorn\.error: Invalid UTF-8 sequence received from client\.\n"
    r"Traceback \(most recent call last\):\n(?:  .*\n)+UnicodeDecodeError: .*\n"
)


def unexpected(log: str) -> str:
    """What of the server's log says something failed (tracebacks, exceptions)."""
    rest = UVICORN_UTF8.sub("", log)
    return rest if "Traceback" in rest or "Exception" in rest else ""


def healthy(room: dict[str, Any]) -> None:
    """/-/health answers 200, and the server logged no traceback since the last look."""
    for wire in (room["f"], *room["p"]):
        wire.drain()
    server, seen = room["server"], room.get("seen", 0)
    assert room["http"].get(f"{server.base}/-/health").status_code == 200
    lines = server.later_output[seen:]
    room["seen"] = seen + len(lines)
    assert not unexpected("".join(lines)), "".join(lines)[-3000:]


def goto(room: dict[str, Any], step: str) -> None:
    if room.get("step") != step:
        assert room["f"].act("goto", {"step": step}, None)["ok"]
        room["step"] = step


def answered_as(ack: dict[str, Any], expected: Any) -> None:
    """The ack says what the validator says: accepted, or refused with its code and field."""
    if isinstance(expected, Rejection):
        error = ack.get("error") or {}
        assert not ack["ok"] and error["code"] == expected.code, (ack, expected.code)
        assert error.get("field") == expected.params["field"] and error["message"], ack
    else:
        assert ack["ok"], ack


def received(value: Any) -> Any:
    """What the server reads: JSON joins an escaped surrogate pair into one character."""
    return json.loads(json.dumps(value))


def expect(check: Any, *args: Any) -> Any:
    try:
        return check(received(args[0]), *args[1:])
    except Rejection as rejection:
        return rejection


FUZZ = settings(
    max_examples=2500 if LONG else 70,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


BOARDS = {  # step -> (the post's fixed part, its limits, the key of its id)
    "idees": ({}, IDEAS, "idea"),
    "problemes": ({"theme": "t1"}, PROBLEMS, "problem"),
}
FIELDS = [
    (step, f)
    for step in BOARDS
    for f in ("title", "description", "need", "place")
    if f in ("title", "description") or step == "idees"
]


@FUZZ
@given(st.sampled_from(FIELDS), ANY_TEXT, st.integers(0, 2))
def test_any_text_in_any_idea_or_problem_field_is_stored_as_validated_or_refused(
    room: dict[str, Any], where: tuple[str, str], text: str, phone: int
) -> None:
    step, field = where
    fixed, limits, key = BOARDS[step]
    goto(room, step)
    data = {**fixed, "title": "Un texte", field: text}
    expected = expect(clean_texts, data, limits)
    ack = room["p"][phone].act("post", data, step)
    answered_as(ack, expected)
    if ack["ok"]:
        event = stored(room, ack)
        assert {k: event[k] for k in ("title", "description", "extra")} == expected
        assert room["p"][phone].act("withdraw", {key: event[key]}, step)["ok"]
    healthy(room)


def named(text: str, limit: int, required: bool = False) -> Any:
    return expect(
        lambda t: clean_text(t, field="name", max_graphemes=limit, required=required), text
    )


@FUZZ
@given(ANY_TEXT, st.booleans())
def test_any_team_name_from_its_captain_or_the_facilitator_is_stored_as_validated_or_refused(
    room: dict[str, Any], text: str, by_facilitator: bool
) -> None:
    goto(room, "equipes")
    captain = room["p"][0]
    if not room.get("captain"):  # phone 0 leads the one team
        assert captain.act("join", {"item": room["item"]}, "equipes")["ok"]
        assert captain.act("volunteer", {}, "equipes")["ok"]
        room["captain"] = True
    team = {"team": f"team-{room['item']}"}
    wire, data = (room["f"], team) if by_facilitator else (captain, {})
    expected = named(text, 40)
    ack = wire.act("name_team", {**data, "name": text}, "equipes")
    answered_as(ack, expected)
    if ack["ok"] and ack["seq"]:
        assert stored(room, ack)["name"] == expected
    healthy(room)


@FUZZ
@given(ANY_TEXT)
def test_any_axis_name_is_stored_as_validated_or_refused(room: dict[str, Any], text: str) -> None:
    goto(room, "axes")
    if not room.get("axis"):
        assert room["f"].act("create", {"name": "Axe"}, "axes")["ok"]
        room["axis"] = "Axe"
    expected = named(text, 60, required=True)
    ack = room["f"].act("rename", {"axis": "ax1", "name": text}, "axes")
    if isinstance(expected, str) and expected != room["axis"]:
        answered_as(ack, expected)
        assert stored(room, ack)["name"] == expected
        room["axis"] = expected
    else:  # refused, or the same name again: accepted with nothing written
        answered_as(ack, expected)
        assert not ack.get("seq")
    healthy(room)


ACTIONS = ["post", "edit", "withdraw", "vote", "join", "name_team", "next", "goto", "rename"]


@settings(FUZZ, max_examples=2000 if LONG else 60)
@given(
    st.one_of(st.uuids().map(str), ANY_TEXT, json_values),
    st.one_of(st.just("idees"), st.none(), ANY_TEXT, json_values),
    st.one_of(st.sampled_from(ACTIONS), ANY_TEXT, json_values),
    st.one_of(
        st.dictionaries(
            st.sampled_from(["title", "idea", "item", "name", "step"]) | ANY_TEXT,
            json_values,
            max_size=4,
        ),
        json_values,
    ),
)
def test_any_envelope_gets_an_ack_or_an_error_with_a_documented_code(
    room: dict[str, Any], action_id: Any, step: Any, action: Any, data: Any
) -> None:
    message = {"type": "act", "id": action_id, "step": step, "action": action, "data": data}
    answer = room["p"][1].ask(message)
    error, action_id = answer.get("error") or {}, received(action_id)
    if isinstance(action_id, str) and 0 < len(action_id) <= 64 and not SURROGATE.search(action_id):
        assert answer["type"] == "ack" and answer["id"] == action_id, answer
    else:  # no id to answer to: the refusal says why
        assert answer["type"] == "error" and error["code"] == "bad_message", answer
    if error:
        assert error["code"] in CODES and error["message"], answer
    healthy(room)


def join_form(text: str) -> tuple[bytes, Any]:
    """The join form's body for `text` (a lone surrogate becomes bytes that are not UTF-8),
    and the name the server should keep, read as engine/joining.py reads forms."""
    body = b"name=" + quote_from_bytes(text.encode("utf-8", "surrogatepass")).encode()
    fields = parse_qs(body[:4096].decode("utf-8", "replace"), max_num_fields=10)
    return body, named(fields.get("name", [""])[0], 40)


def post_join(room: dict[str, Any], body: bytes) -> httpx.Response:
    server, form = room["server"], {"content-type": "application/x-www-form-urlencoded"}
    # A fresh client each time: no cookie, so each post is a new person joining.
    return httpx.post(f"{server.base}/j/{server.join_code}", content=body, headers=form)


@settings(FUZZ, max_examples=500 if LONG else 30)
@given(ANY_TEXT)
def test_any_name_on_the_join_form_is_kept_as_validated_or_refused_with_the_form(
    room: dict[str, Any], text: str
) -> None:
    body, expected = join_form(text)
    response = post_join(room, body)
    if isinstance(expected, Rejection):
        assert response.status_code == 400 and 'role="alert">' in response.text, response
    else:
        assert response.status_code == 303, response
        row = room["log"].execute("SELECT data FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        assert json.loads(row[0])["name"] == expected
    healthy(room)


# -- the named cases ------------------------------------------------------------------------------
def test_a_lone_surrogate_in_any_field_or_the_envelope_is_refused_not_a_crash(
    room: dict[str, Any],
) -> None:
    phone, lone = room["p"][2], "abc\ud800"
    goto(room, "idees")
    for field in ("title", "description", "need", "place"):
        ack = phone.act("post", {"title": "Une idée", field: lone}, "idees")
        assert ack["error"]["code"] == "invalid_text" and ack["error"]["field"] == field, ack
    goto(room, "equipes")
    ack = room["f"].act("name_team", {"team": f"team-{room['item']}", "name": lone}, "equipes")
    assert ack["error"]["code"] == "invalid_text", ack
    for key in ("step", "action"):
        message = dict(type="act", id="x1", step="equipes", action="name_team", data={})
        assert phone.ask(message | {key: "\udfff"})["error"]["code"] == "bad_message"
    answer = phone.ask({"type": "act", "id": "\ud800", "step": None, "action": "next"})
    assert answer["type"] == "error" and answer["error"]["code"] == "bad_message", answer
    healthy(room)


def test_a_text_frame_that_is_not_utf8_closes_the_socket_with_1007(room: dict[str, Any]) -> None:
    server = room["server"]
    phone = Client(server, "participant").join("Octets")
    wire = Wire(server, phone)
    assert wire.ask(b"\x00\x01")["error"]["code"] == "bad_message"  # binary: refused, kept
    assert wire.ask("{not json")["error"]["code"] == "bad_message"
    wire.ws.send(b'{"type": "ping", "x": "\xed\xa0\x80"}', text=True)  # CESU-8 surrogate
    with pytest.raises(ConnectionClosed):
        while True:
            wire.ws.recv(timeout=20)
    assert wire.ws.close_code == 1007, wire.ws.close_code
    assert len(UVICORN_UTF8.findall("".join(room["server"].later_output))) == 1
    healthy(room)


FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # 1 grapheme, 25 bytes
HEAVY = "x" + "\u0316" * 19  # 1 grapheme, 39 bytes
ZALGO = "x" + "\u0316" * 40  # 1 grapheme, 81 bytes: more than any real character


def test_limits_count_graphemes_and_bytes_over_the_wire(room: dict[str, Any]) -> None:
    goto(room, "idees")
    phone = room["p"][2]
    for title, code in [
        (FAMILY * 80, None),
        (FAMILY * 81, "too_long"),
        (HEAVY * 65, None),
        (HEAVY * 66, "too_long"),
        (ZALGO, "invalid_text"),
    ]:
        ack = phone.act("post", {"title": title}, "idees")
        assert (ack["error"]["code"] if not ack["ok"] else None) == code, (len(title), ack)
        if ack["ok"]:
            event = stored(room, ack)
            assert event["title"] == title
            assert phone.act("withdraw", {"idea": event["idea"]}, "idees")["ok"]
    for name, status in [
        (FAMILY * 40, 303),
        (FAMILY * 41, 400),
        (HEAVY * 32, 303),
        (HEAVY * 33, 400),
    ]:
        response = post_join(room, join_form(name)[0])
        assert response.status_code == status, (len(name), response.status_code)
    healthy(room)


@pytest.mark.parametrize(
    "text",
    ["\u200b\u200c\u200d\ufeff\u2060", "\u202e\u2066\u2069", " \u3000\u00a0\t", "\u0301\u0302"],
)
def test_text_that_looks_empty_is_refused_as_empty(room: dict[str, Any], text: str) -> None:
    phone = room["p"][2]
    goto(room, "idees")
    assert phone.act("post", {"title": text}, "idees")["error"]["code"] == "empty_text"
    goto(room, "problemes")
    ack = phone.act("post", {"theme": "t1", "title": text}, "problemes")
    assert ack["error"]["code"] == "empty_text"
    goto(room, "axes")
    ack = room["f"].act("create", {"name": text}, "axes")
    assert ack["error"]["code"] == "empty_text"


def test_titles_that_differ_only_by_normalisation_collide_as_duplicates(
    room: dict[str, Any],
) -> None:
    composed, decomposed = "Caf\u00e9 des \u00e2g\u00e9s", "Cafe\u0301 des a\u0302ge\u0301s"
    phone = room["p"][2]
    for step, key, data in [("idees", "idea", {}), ("problemes", "problem", {"theme": "t1"})]:
        goto(room, step)
        first = phone.act("post", {**data, "title": decomposed}, step)
        assert stored(room, first)["title"] == composed  # kept as NFC
        again = phone.act("post", {**data, "title": composed}, step)
        assert again["error"]["code"] == "duplicate" and again["error"]["field"] == "title"
        assert phone.act("withdraw", {key: stored(room, first)[key]}, step)["ok"]
    goto(room, "axes")
    assert room["f"].act("create", {"name": composed}, "axes")["ok"]
    ack = room["f"].act("create", {"name": decomposed}, "axes")
    assert ack["error"]["code"] == "duplicate_name", ack


# -- bidi isolation on every surface ---------------------------------------------------------------
# "~" is outside the base64url alphabet of ids: a random id cannot look like a tag
TAG = re.compile(r"Q~\d\d")
VOID = set("area base br col embed hr img input link meta source track wbr".split())


class Isolates(HTMLParser):
    """Where each user text (found by its tag) sits: in which bidi isolate (an element with
    `dir`, or a `<bdi>`), and with which other user texts."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, int | None]] = []
        self.isolates: dict[int, set[str]] = {}
        self.faults: list[str] = []
        self.count = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        for name, value in attrs:
            if value and TAG.search(value) and not (name == "value" and "dir" in named):
                self.faults.append(f"<{tag} {name}={value!r}>: user text in an attribute")
        if tag not in VOID:
            self.count += 1
            isolating = tag == "bdi" or "dir" in named
            self.stack.append((tag, self.count if isolating else None))

    def handle_endtag(self, tag: str) -> None:
        while self.stack and self.stack.pop()[0] != tag:
            pass

    def handle_data(self, data: str) -> None:
        for found in TAG.findall(data):
            path = [tag for tag, _ in self.stack]
            if "option" in path:  # a native list: one line per option, nothing beside it
                continue
            isolate = next((i for _, i in reversed(self.stack) if i is not None), None)
            if isolate is None:
                self.faults.append(f"{found} not isolated in {'>'.join(path)}: {data.strip()!r}")
            else:
                self.isolates.setdefault(isolate, set()).add(found)

    def shared(self) -> list[str]:
        return [
            f"{sorted(tags)} share one isolate" for tags in self.isolates.values() if len(tags) > 1
        ]


def isolation_faults(html: str) -> list[str]:
    parser = Isolates()
    parser.feed(html)
    parser.close()
    return parser.faults + parser.shared()


def test_every_user_text_sits_alone_in_its_own_bidi_isolate_on_every_surface(
    tmp_path: Path,
) -> None:
    kit = tmp_path / "bidi.toml"
    kit.write_text(KIT.replace('language = "fr"', 'language = "fr"\ntables = 2'), "utf-8")
    server = Server(tmp_path / "bidi.db", kit=str(kit)).start()
    try:
        faults = run(_bidi_day(server), timeout=120)
    finally:
        server.stop()
    assert not faults, "\n".join(sorted(set(faults)))


async def _bidi_day(server: Server) -> list[str]:
    said: list[str] = []

    def say() -> str:  # right-to-left, then a tag, then digits: what bidi most easily scrambles
        said.append(f"Q~{len(said):02d}")
        return f"\u05e9\u05dc\u05d5\u05dd {said[-1]} 12"

    f = await Client(server, "facilitator").login().connect()
    screen = await Client(server, "screen").login().connect()
    people = []
    for table in (1, 1, 2, 2):
        person = Client(server, "participant")
        response = person.http.post(
            f"/j/{server.join_code}", data={"name": say(), "table": str(table)}
        )
        assert response.url.path == "/p", response.text
        people.append(await person.connect())
    faults: list[str] = []

    async def look(step: str, shown: str = "") -> None:
        """Fresh views of every surface (the panel shows everything, so wait for it first),
        then every region checked."""
        await eventually(f, lambda: (shown or said[-1]) in "".join(f.regions.values()), step)
        for client in (f, screen, *people):
            before, streams = len(client.views), 2 if client.audience == "participant" else 1
            await client.send_raw(json.dumps({"type": "resync"}))
            await eventually(client, lambda c=client, n=before + streams: len(c.views) >= n, step)
            for region, html in client.regions.items():
                faults.extend(
                    f"{step}, {client.audience} {region}: {fault}"
                    for fault in isolation_faults(html)
                )

    async def ok(client: Client, action: str, data: dict[str, Any], step: str | None) -> int:
        ack = await client.act(action, data, step)
        assert ack["ok"], (action, ack)
        return int(ack["seq"])

    await ok(
        people[0],
        "post",
        {"title": say(), "description": say(), "need": say(), "place": say()},
        "idees",
    )
    for person in people[1:]:
        await ok(person, "post", {"title": say()}, "idees")
    posted = [e["data"]["idea"] for e in read_events(server.db) if e["kind"] == "ideation.posted"]
    await ok(f, "merge", {"idea": posted[3], "into": posted[0]}, "idees")  # "merged into …"
    await look("idees", said[-1])
    await ok(f, "next", {}, None)
    for person in people[:2]:
        await ok(person, "post", {"theme": "t1", "title": say(), "description": say()}, "problemes")
    await look("problemes")
    await ok(f, "next", {}, None)
    await ok(f, "create", {"name": say()}, "axes")
    await ok(f, "create", {"name": say()}, "axes")
    await look("axes")
    await ok(f, "next", {}, None)
    await eventually(
        people[0],
        lambda: people[0].regions["main"].count("data-arg-item") == 3,
        "a team per visible idea",
    )
    ideas = re.findall(r'data-arg-item="([^"]+)"', people[0].regions["main"])
    for person, idea in zip(people, [ideas[0], ideas[0], ideas[1], ideas[2]], strict=True):
        await ok(person, "join", {"item": idea}, "equipes")
    await ok(people[0], "volunteer", {}, "equipes")
    await ok(people[0], "name_team", {"name": say()}, "equipes")
    await ok(f, "name_team", {"team": f"team-{ideas[1]}", "name": say()}, "equipes")
    team_name = said[-1]
    await look("equipes")
    await ok(f, "next", {}, None)
    await look("pitchs", team_name)
    await ok(f, "next", {}, None)
    juror = Client(server, "participant")
    assert juror.http.post(server.urls["jury"], data={"name": say()}).url.path == "/p"
    await juror.connect()
    teams = [f"team-{idea}" for idea in ideas[:3]]
    for team in teams:
        await ok(juror, "score", {"item": team, "criterion": "overall", "score": "4"}, "jury")
    await ok(f, "close", {}, "jury")
    await ok(f, "reveal", {}, "jury")
    await look("jury")
    await ok(f, "next", {}, None)
    for team, award in zip(teams, ("prix", "mention", "mention"), strict=True):
        await ok(f, "give_award", {"item": team, "award": award}, "palmares")
    for reveal in ("mention", "prix", "ranking"):
        await ok(f, "publish", {}, "palmares")
        await look(f"palmares, {reveal}", team_name)
    await juror.close()
    for client in (f, screen, *people):
        await client.close()
    return faults
