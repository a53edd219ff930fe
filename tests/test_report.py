"""The results report (issue 8), for every bundled kit, in French and English: served to the
facilitator at /report, opened in Chromium (nothing overflows, each step that was reached has
its part, charts where there were votes), printed to an A4 PDF whose pages pdftoppm renders
and which are not blank. Each kit is played at every step by a few simulated phones.

And privacy: in the export and the report, a pseudonym appears only where its owner signed
(their team), and a person who gave no name appears nowhere, by no identifier."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from report_support import OVERFLOWING, print_pages, printed_text

from browser import browser  # noqa: F401  (fixture)
from palabre.engine.cli import main as palabre
from palabre.engine.plugins import collect_activities, collect_kits, get_plugin_manager
from palabre.engine.record import build_record
from palabre.engine.replay import load_workshop, read_log
from palabre.engine.simulate import make_phones, play
from support import Client, Server, close_all, run

PM = get_plugin_manager()
ACTIVITIES = collect_activities(PM)
KITS = sorted(
    (p for p in collect_kits(PM) if p.parent.name == "facilitator_kits"), key=lambda p: p.stem
)
SHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
SIGNED = "Zéphyrine Quillard"


async def play_every_step(server: Server, seconds: float = 0.5) -> None:
    kit = load_workshop(server.db, ACTIVITIES).kit
    phones = make_phones(server.base, server.join_code, 8, kit.language, kit.tables, seed=5,
                         pace=0.05)  # fmt: skip
    for phone in phones:
        await phone.join()
    facilitator = await Client(server, "facilitator").login().connect()
    try:
        for index, _ in enumerate(kit.steps):
            stop = asyncio.Event()
            playing = asyncio.create_task(play(phones, stop))
            await asyncio.sleep(seconds)
            stop.set()
            await asyncio.wait_for(playing, 20)
            if index + 1 < len(kit.steps):
                assert (await facilitator.act("next"))["ok"]
        text = "Un compte rendu sera envoyé à chacun d’ici quinze jours."
        assert (await facilitator.act("set_next_steps", {"text": text}))["ok"]
    finally:
        await facilitator.close()


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Server]:
    """Each bundled kit played through, its server left running for the report's route."""
    servers: dict[str, Server] = {}
    for path in KITS:
        server = Server(tmp_path_factory.mktemp(path.stem) / "w.db", kit=str(path)).start()
        servers[path.stem] = server

    async def every_kit() -> None:  # side by side: the suite stays short
        await asyncio.gather(*(play_every_step(server) for server in servers.values()))

    run(every_kit(), timeout=180)
    yield servers  # type: ignore[misc]
    for server in servers.values():
        server.stop()


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize("kit", [p.stem for p in KITS])
def test_the_report_of_each_kit_reads_and_prints(
    played: dict[str, Server], browser: Any, kit: str, lang: str, tmp_path: Path  # noqa: F811
) -> None:
    server = played[kit]
    record = build_record(read_log(server.db), ACTIVITIES)
    page = browser.new_context(viewport={"width": 1000, "height": 1400}).new_page()
    page.goto(server.urls["facilitator"])
    page.goto(f"{server.base}/lang/{lang}")
    response = page.goto(f"{server.base}/report")
    assert response is not None and response.status == 200
    assert page.evaluate("document.documentElement.lang") == lang
    assert page.title().startswith(record["workshop"]["title"])
    reached = [s["id"] for s in record["steps"] if s["opened"]]
    assert len(reached) == len(record["steps"])
    parts = page.eval_on_selector_all("section[data-step]", "els => els.map(e => e.dataset.step)")
    assert parts == reached
    assert page.evaluate(OVERFLOWING) == [], "something is wider than the page"
    assert "Un compte rendu sera envoyé" in page.inner_text("body")
    assert "[removed]" not in page.content(), "an activity's export held an id or a secret"
    voted = any(_has_votes(s["results"]) for s in record["steps"])
    if voted:
        assert page.locator("svg.chart").count() >= 1, "votes, but no chart"
    pdf = tmp_path / "report.pdf"
    pages = print_pages(page, pdf)
    # Nothing is cut off on paper: every heading is printed, and the footer is on the last page.
    # (How many pages depends on how much the simulated phones wrote: not asserted.)
    printed = printed_text(pdf)
    headings = "h1, h2:not(:has(bdi)), h2 bdi"  # a step's number is laid out apart from its title
    for heading in page.eval_on_selector_all(headings, "els => els.map(e => e.innerText)"):
        assert " ".join(heading.split()) in printed, f"{heading!r} is not on paper"
    footer = " ".join(page.inner_text("footer").split())
    assert footer[:60] in printed_text(pdf, len(pages)), "the report's end is not on its last page"
    if lang == "fr":
        SHOTS.mkdir(exist_ok=True)
        pages[0].save(SHOTS / f"report-{kit}-page1.png")


def _has_votes(results: dict[str, Any] | None) -> bool:
    if not results:
        return False
    ranking = results.get("ranking") or results.get("axes") or []
    return any((row.get("dots") or 0) > 0 for row in ranking if isinstance(row, dict))


def test_a_pseudonym_appears_only_where_its_owner_signed(tmp_path: Path) -> None:
    kit = next(p for p in KITS if p.stem == "challenge-shortlist")
    server = Server(tmp_path / "w.db", kit=str(kit)).start()
    try:
        ids = run(_two_people_vote_and_join_a_team(server))
        db, out = server.db, tmp_path / "export.json"
        assert palabre(["export", str(db), "--format", "json", "--out", str(out)]) == 0
        assert palabre(["report", str(db), "--out", str(tmp_path / "r.html")]) == 0
    finally:
        server.stop()
    record = json.loads(out.read_text(encoding="utf-8"))
    report = (tmp_path / "r.html").read_text(encoding="utf-8")
    places = sorted(set(_paths_holding(record, SIGNED)))
    assert places, "the signed member is missing from their team"
    assert all(p.endswith("member_names") for p in places), places
    assert report.count(SIGNED) >= 1
    everything = out.read_text(encoding="utf-8") + report
    for secret in ids:
        assert secret not in everything, "a device id or cookie left the server"


async def _two_people_vote_and_join_a_team(server: Server) -> set[str]:
    """A person who signs (gives a name) and one who does not each vote and join a team;
    returns their device ids and cookie values."""
    named = await Client(server, "participant").join(SIGNED).connect()
    unnamed = await Client(server, "participant").join().connect()
    facilitator = await Client(server, "facilitator").login().connect()
    try:
        for phone, item in ((named, "velo"), (unnamed, "velo"), (unnamed, "ombre")):
            assert (await phone.act("vote", {"item": item}, step="defis"))["ok"]
        assert (await facilitator.act("next"))["ok"]
        for phone in (named, unnamed):
            await phone.wait_for(lambda p=phone: 'data-action="join"' in p.regions["main"])
            assert (await phone.act("join", {"item": "velo"}, step="equipes"))["ok"]
    finally:
        await close_all(named, unnamed, facilitator)
    workshop = load_workshop(server.db, ACTIVITIES)
    ids = set(workshop.roster.people)
    cookies = {c.value for p in (named, unnamed) for c in p.http.cookies.jar}
    assert len(ids) == 2 and len(cookies) >= 2
    return ids | cookies


def _paths_holding(value: Any, text: str, path: str = "") -> list[str]:
    if isinstance(value, str):
        return [path] if text in value else []
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _paths_holding(v, text, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for v in value for p in _paths_holding(v, text, path)]
    return []


def test_the_facilitator_types_the_next_steps_and_downloads_the_results_from_the_panel(
    browser: Any, tmp_path: Path  # noqa: F811
) -> None:
    import openpyxl

    server = Server(tmp_path / "w.db").start()
    text = "Restitution publique le 12 mars à la mairie ; les équipes s’y retrouvent."
    try:
        page = browser.new_context(viewport={"width": 1366, "height": 900},
                                   accept_downloads=True).new_page()  # fmt: skip
        page.goto(server.urls["facilitator"])
        page.get_by_text("Rapport et exports").click()
        page.fill("#next-steps", text)
        page.get_by_role("button", name="Enregistrer les suites").click()
        page.locator("#toast.is-visible").wait_for()  # the server's ack: "Envoyé"
        with page.expect_download() as download:
            page.click("a[href='/report/export.xlsx']")
        name = download.value.suggested_filename
        assert name == "palabre-quick-start.xlsx", name
        download.value.save_as(tmp_path / name)
        book = openpyxl.load_workbook(tmp_path / name, read_only=True)
        header, row = list(book["workshop"].iter_rows(values_only=True))[:2]
        assert row[header.index("next_steps")] == text
        assert row[header.index("status")] == "in_progress"
        with page.context.expect_page() as opened:
            page.get_by_role("link", name="Ouvrir le rapport des résultats").click()
        report = opened.value
        report.wait_for_load_state()
        assert text in report.inner_text("body")
        assert "Atelier en cours" in report.inner_text("body")
    finally:
        server.stop()
