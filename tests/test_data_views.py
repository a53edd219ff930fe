"""The SQL views of a workshop file (engine/sql_views.py) against a workshop really played:
they agree with the engine, show no secret, device id or name, and docs/data.md documents
every view, every column and every event kind."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from collections import Counter
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from day import ACTIVITIES, Day
from palabre.engine.kits import load_kit
from palabre.engine.replay import load_workshop
from palabre.engine.sql_views import VIEWS
from palabre.engine.store import EventStore
from palabre.engine.workshop import Workshop
from support import Client, Server, read_events, run

ROOT = Path(__file__).parent.parent
DOC = ROOT / "docs" / "data.md"
SECRET_KEYS = ("workshop_id", "facilitator_secret", "screen_token", "jury_token", "join_code",
               "cookie_key")  # fmt: skip
PHONES = ["Alice Martin", "Bruno Keller", "Chloé Diallo", "David N'Guessan"]
JURORS = ["Juliette Arbitre", "Marc Jugement"]

KIT = """\
[workshop]
title = "Atelier de test des vues"
language = "fr"

[[steps]]
id = "idees"
activity = "ideation"
title = "Idées"

[[steps]]
id = "constats"
activity = "diagnosis"
title = "Constats"
[steps.config]
themes = [{ id = "mobilite", title = "Mobilité" }, { id = "logement", title = "Logement" }]

[[steps]]
id = "vote"
activity = "dot_voting"
title = "Vote"
from = "constats"
[steps.config]
dots = 3
max_per_item = 2
results = "live"

[[steps]]
id = "equipes"
activity = "teams"
title = "Équipes"
from = "vote"
[steps.config]
mode = "first_come"
min_size = 1
max_size = 4

[[steps]]
id = "jury"
activity = "jury"
title = "Jury"
from = "equipes"
[steps.config]
audience_weight = 0.5
criteria = [{ id = "utilite", weight = 2 }, { id = "faisabilite" }]
"""


@dataclass
class Played:
    db: Path
    workshop: Workshop


async def act(client: Client, action: str, data: dict[str, Any] | None = None,
              step: str | None = None) -> None:
    ack = await client.act(action, data or {}, step)
    while not ack["ok"] and ack["error"]["code"] == "slow_down":
        await asyncio.sleep(0.3)  # a person taps a few times a second at most
        ack = await client.act(action, data or {}, step)
    assert ack["ok"], (action, data, ack)


def posted(db: Path, kind: str, key: str) -> list[str]:
    return [e["data"][key] for e in read_events(db) if e["kind"] == kind]


async def play(server: Server, day: Day, phones: list[Client]) -> None:
    f = day.facilitator
    await act(f, "toggle_join")
    for n, phone in enumerate(phones):  # ideas: one is edited, one hidden
        await act(phone, "post", {"title": f"Idée numéro {n}"}, "idees")
    ideas = posted(server.db, "ideation.posted", "idea")
    await act(phones[0], "edit", {"idea": ideas[0], "title": "Idée zéro, revue"}, "idees")
    await act(f, "hide", {"idea": ideas[1]}, "idees")

    await day.next_step()  # problems: one merged, one withdrawn, one changes theme
    for n, phone in enumerate(phones):
        theme = ("mobilite", "logement")[n % 2]
        await act(phone, "post", {"title": f"Constat {n}", "theme": theme}, "constats")
    await act(phones[3], "post", {"title": "Constat en trop", "theme": "mobilite"}, "constats")
    problems = posted(server.db, "diagnosis.posted", "problem")
    await act(phones[3], "withdraw", {"problem": problems[4]}, "constats")
    await act(phones[0], "edit", {"problem": problems[0], "title": "Constat 0 précisé",
                                  "theme": "logement"}, "constats")
    await act(f, "merge", {"problem": problems[2], "into": problems[1]}, "constats")
    await act(f, "close", step="constats")

    await day.next_step()  # dots, a reset, dots again
    p0, p1, p3 = problems[0], problems[1], problems[3]
    await act(phones[0], "vote", {"item": p1}, "vote")
    await act(f, "reset", step="vote")
    for who, verb, item in [(0, "vote", p0), (0, "vote", p0), (0, "vote", p1),
                            (0, "unvote", p0), (1, "vote", p1), (1, "vote", p3),
                            (2, "vote", p3), (2, "vote", p3), (3, "vote", p0)]:
        await act(phones[who], verb, {"item": item}, "vote")
    await act(f, "close", step="vote")

    await day.next_step()  # teams: their members are device ids, in the next step's inputs
    for who, item in [(0, p0), (1, p1), (2, p1), (3, p3)]:
        await act(phones[who], "join", {"item": item}, "equipes")
    await act(phones[1], "volunteer", {}, "equipes")
    await act(f, "close", step="equipes")

    await day.next_step()  # the jury: a changed score, a conflict, the audience's dots
    await day.add_jurors(JURORS)
    projects = [item.id for item in day.outputs("jury")]
    assert len(projects) == 3
    first, second = day.jurors
    for project in projects:
        for criterion in ("utilite", "faisabilite"):
            await act(first, "score", {"item": project, "criterion": criterion, "score": "3"},
                      "jury")
    await act(first, "score", {"item": projects[0], "criterion": "utilite", "score": "5"},
              "jury")
    await act(second, "score", {"item": projects[1], "criterion": "utilite", "score": "2"},
              "jury")
    await act(second, "declare_conflict", {"item": projects[1]}, "jury")
    await act(phones[2], "vote", {"item": projects[2]}, "jury")
    await act(f, "close", step="jury")
    await asyncio.gather(*(c.close() for c in [f, *phones, *day.jurors]))


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> Played:
    folder = tmp_path_factory.mktemp("dataviews")
    kit_file = folder / "views-kit.toml"
    kit_file.write_text(KIT, encoding="utf-8")
    server = Server(folder / "workshop.db", kit=str(kit_file)).start()

    async def main() -> None:
        phones = [await Client(server, "participant").join(name).connect() for name in PHONES]
        facilitator = await Client(server, "facilitator").login().connect()
        day = Day(server, load_kit(kit_file, ACTIVITIES), [], facilitator)
        await play(server, day, phones)

    try:
        run(main())
    finally:
        server.stop()
    return Played(server.db, load_workshop(server.db, ACTIVITIES))


def query(db: Path, sql: str, *args: Any) -> list[dict[str, Any]]:
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(row) for row in conn.execute(sql, args)]


def columns(db: Path, view: str) -> list[str]:
    return [row["name"] for row in query(db, f"PRAGMA table_info({view})")]


# -- the views hold what the workshop did --------------------------------------------------------
@pytest.mark.parametrize("view", list(VIEWS))
def test_each_view_exists_and_has_rows(played: Played, view: str) -> None:
    assert query(played.db, f"SELECT * FROM {view}")


def test_the_votes_add_up_to_the_engines_dot_vote_results(played: Played) -> None:
    runtime = played.workshop.step_by_id("vote")
    assert runtime is not None
    export = runtime.activity.export(runtime.state)
    engine = {row["id"]: row["dots"] for row in export["ranking"] if row["dots"]}
    rows = query(played.db, "SELECT item, sum(dots) AS n FROM votes WHERE step = 'vote' "
                            "GROUP BY item HAVING n <> 0")
    assert {r["item"]: r["n"] for r in rows} == engine
    assert sum(engine.values()) == 7
    # The dot placed before the reset is in the log, not in the view.
    raw = [e for e in read_events(played.db) if e["kind"].startswith("dot_voting.")
           and e["kind"].endswith("voted")]  # fmt: skip
    listed = query(played.db, "SELECT * FROM votes WHERE step = 'vote'")
    assert (len(raw), len(listed)) == (10, 9)
    audience = query(played.db, "SELECT activity, dots FROM votes WHERE step = 'jury'")
    assert audience == [{"activity": "jury", "dots": 1}]


def test_jury_scores_hold_each_jurors_latest_score_once(played: Played) -> None:
    rows = query(played.db, "SELECT * FROM jury_scores")
    scored = [e for e in read_events(played.db) if e["kind"] == "jury.scored"]
    net = {(e["actor"], e["data"]["item"], e["data"]["criterion"]) for e in scored}
    assert len(rows) == len(net) == 7 and len(scored) == 8
    runtime = played.workshop.step_by_id("jury")
    assert runtime is not None
    sheets = runtime.state.sheets
    assert len(rows) == sum(len(sheet) for items in sheets.values() for sheet in items.values())
    changed = [r for r in rows if r["changes"]]
    assert [(r["juror"], r["criterion"], r["score"]) for r in changed] == [
        ("juror-1", "utilite", 5)
    ]
    assert [(r["juror"], r["conflict"]) for r in rows if r["conflict"]] == [("juror-2", 1)]


def test_posts_show_each_post_as_the_engine_holds_it(played: Played) -> None:
    for step in ("idees", "constats"):
        runtime = played.workshop.step_by_id(step)
        assert runtime is not None
        board = runtime.state
        rows = {r["id"]: r for r in query(played.db, "SELECT * FROM posts WHERE step = ?", step)}
        assert set(rows) == set(board.posts)
        for post in board.posts.values():
            row = rows[post.id]
            assert (row["title"], row["description"], row["group_id"] or "") == (
                post.title, post.description, post.group)
            assert json.loads(row["extra"]) == post.extra
            assert (bool(row["hidden"]), bool(row["withdrawn"]), row["merged_into"]) == (
                post.hidden, post.withdrawn, post.merged_into)
    edited = query(played.db, "SELECT * FROM posts WHERE edits > 0 AND step = 'constats'")
    assert [(r["title"], r["group_id"]) for r in edited] == [("Constat 0 précisé", "logement")]


def test_steps_participation_and_the_log_count_what_happened(played: Played) -> None:
    events = read_events(played.db)
    steps = query(played.db, "SELECT * FROM steps")
    assert [s["step"] for s in steps] == ["idees", "constats", "vote", "equipes", "jury"]
    assert [s["activity"] for s in steps] == ["ideation", "diagnosis", "dot_voting", "teams",
                                              "jury"]  # fmt: skip
    per_step = Counter(e["step"] for e in events if e["step"])
    assert {s["step"]: s["events"] for s in steps} == per_step
    people = {r["step"]: (r["participants"], r["jurors"])
              for r in query(played.db, "SELECT * FROM participation")}
    assert people == {"idees": (4, 0), "constats": (4, 0), "vote": (4, 0), "equipes": (4, 0),
                      "jury": (1, 2)}  # fmt: skip
    log = query(played.db, "SELECT * FROM event_log")
    assert len(log) == len(events)
    assert {r["by"] for r in log} == {
        "facilitator", "participant-1", "participant-2", "participant-3", "participant-4",
        "juror-1", "juror-2"}  # fmt: skip
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", log[0]["time"])
    (workshop,) = query(played.db, "SELECT * FROM workshop")
    assert workshop["kit_name"] == "views-kit.toml" and workshop["kit"] == KIT
    assert (workshop["participants"], workshop["jurors"]) == (4, 2)


# -- and nothing they must not -------------------------------------------------------------------
def test_no_view_shows_a_secret_a_device_id_or_a_name(played: Played) -> None:
    meta = dict((r["key"], r["value"]) for r in query(played.db, "SELECT * FROM meta"))
    events = read_events(played.db)
    devices = {e["actor"] for e in events if e["kind"] == "participant.joined"}
    assert len(devices) == 6
    forbidden = {meta[key] for key in SECRET_KEYS} | devices | set(PHONES) | set(JURORS)
    # The log itself holds device ids inside event data (team members), so the scan bites.
    assert any(d in e_data for d in devices for e_data in
               (json.dumps(e["data"]) for e in events if e["kind"] == "workshop.step_opened"))
    for view in VIEWS:
        for row in query(played.db, f"SELECT * FROM {view}"):
            for column, value in row.items():
                shown = str(value)
                leaks = [secret for secret in forbidden if secret in shown]
                assert not leaks, f"{view}.{column} shows {leaks}"


def test_an_older_file_gets_the_views_and_a_changed_view_is_redefined(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
        conn.execute("CREATE TABLE events (seq INTEGER PRIMARY KEY, ts FLOAT, step TEXT, "
                     "kind TEXT, actor TEXT, action_id TEXT, data TEXT)")
        conn.execute("CREATE VIEW votes AS SELECT 1 AS outdated")
        conn.commit()
    EventStore(db).close()
    names = {r["name"] for r in query(db, "SELECT name FROM sqlite_master WHERE type = 'view'")}
    assert names == set(VIEWS)
    assert "outdated" not in columns(db, "votes")


# -- docs/data.md keeps up ------------------------------------------------------------------------
def doc_section(heading: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    start = text.index(heading)
    end = re.search(r"\n#{2,3} ", text[start + len(heading):])
    return text[start: start + len(heading) + end.start()] if end else text[start:]


@pytest.mark.parametrize("view", list(VIEWS))
def test_each_view_is_documented_with_each_of_its_columns(played: Played, view: str) -> None:
    section = doc_section(f"### `{view}`")
    missing = [c for c in columns(played.db, view) if f"| `{c}` |" not in section]
    assert not missing, f"docs/data.md, view {view}: columns not documented: {missing}"


FILES = (".db", ".toml", ".html", ".md", ".json", ".py", ".txt")
SLUGS = sorted({*ACTIVITIES, "workshop", "participant"})
KIND = re.compile(rf"(?:{'|'.join(SLUGS)})\.[a-z_]+")


def sources() -> dict[Path, str]:
    files = [*ROOT.joinpath("engine").rglob("*.py"), *ROOT.joinpath("plugins").rglob("*.py")]
    return {path: path.read_text(encoding="utf-8") for path in files}


def kinds_in_code() -> set[str]:
    """Kinds written out in full: in `Event("…")` and in the tables of kinds (`"x.closed"`)."""
    found = set()
    for text in sources().values():
        found |= set(re.findall(r'Event\(\s*"([a-z_]+\.[a-z_]+)"', text))
        found |= set(re.findall(r'"([a-z_]+\.[a-z_]+)"', text))
    return {kind for kind in found if KIND.fullmatch(kind) and not kind.endswith(FILES)}


def documented_kinds() -> set[str]:
    return set(re.findall(rf"`({KIND.pattern})`", DOC.read_text(encoding="utf-8")))


def test_every_event_kind_in_the_code_and_in_a_played_log_is_documented(
    played: Played,
) -> None:
    logged = {e["kind"] for e in read_events(played.db)}
    assert not (kinds_in_code() | logged) - documented_kinds()


def test_every_documented_event_kind_exists_in_the_code() -> None:
    """A kind built from parts (`f"pitches.{kind}"`) is found by its suffix, which the
    activity's reduce compares against."""
    texts = sources()
    for kind in documented_kinds():
        prefix, suffix = kind.split(".", 1)
        homes = ["engine"] if prefix in ("workshop", "participant") else [f"plugins/{prefix}"]
        if prefix in ("diagnosis", "ideation"):
            homes.append("plugins/common/posts.py")
        text = "".join(t for p, t in texts.items()
                       if any(str(p.relative_to(ROOT)).startswith(h) for h in homes))
        assert f'"{kind}"' in text or f'"{suffix}"' in text, f"{kind} is not in the code"
