"""Stored XSS (RELIABILITY row 6): what residents type is shown as text, never run as code.

The corpus (tests/xss_payloads.py, 80+ payloads) goes through every text a resident or a team
writes — the name on the join form (participants and jurors), an idea's title, description and
the kit's extra fields, a diagnosis problem's title and description, a team's name (by its
captain and by the facilitator), an axis name — and is then looked at in a real Chromium on
every surface: the author's phone, another phone, the room screen, the facilitator panel (and
the screen preview framed in it), first through live updates (the pages are open before
anything is posted: the text arrives through the WebSocket and the client's morph), then
through a fresh page load, step after step until the restitution. The screen, the panel and the
other phone run with Playwright's `bypass_csp`, so the escaping alone is tested; the author's
phone keeps the real CSP, as deployed.

Proven: no dialog opens, no payload's marker runs, no element or handler is created from
the text, and each text is shown exactly as its validator normalised it (computed with
`palabre.engine.text.clean_text`, not written by hand); texts a validator refuses come back
with a clear error. Beside the browser run: every HTML response carries the nonce CSP, the
client JavaScript writes HTML only from the server's escaped regions, and templates mark
only those regions `|safe`.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from xss_payloads import DESK, KIT, PAYLOADS, ROOM, Harness, outcome, payload, shoot

from browser import ARGS, CHROMIUM, PHONE, require_chromium
from palabre.plugins.axes.views import SCREEN_AXES
from palabre.plugins.ideation.activity import SCREEN_CARDS
from palabre.plugins.teams.board import SCREEN_TEAMS
from palabre.plugins.teams.model import item_team_id
from support import Client, Server, read_events, run

ROOT = Path(__file__).parent.parent


def test_the_corpus_has_at_least_fifty_distinct_payloads_that_each_leave_a_marker() -> None:
    assert len(set(PAYLOADS)) == len(PAYLOADS) >= 50
    numbers = [re.findall(r"1\d\d", p) for p in PAYLOADS]
    assert all(numbers[:-5]), "every payload but the refused ones names its number"


def test_every_payload_is_shown_as_typed_and_never_runs_on_any_surface(tmp_path: Path) -> None:
    require_chromium()
    from playwright.async_api import async_playwright

    kit = tmp_path / "xss.toml"
    kit.write_text(KIT, encoding="utf-8")
    server = Server(tmp_path / "xss.db", kit=str(kit)).start()

    async def main() -> Workshop:
        async with async_playwright() as pw:
            chromium = await pw.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=ARGS
            )
            flow = Workshop(server, chromium)
            try:
                await flow.play()
            finally:
                await flow.close()
                await chromium.close()
            return flow

    try:
        flow = run(main(), timeout=240)
        later = "".join(server.later_output)  # read before the stop, whose ^C is logged
    finally:
        server.stop()
    print(f"\nXSS run: {flow.summary()}")
    assert not flow.problems, "\n".join(flow.problems[:40])
    assert "Traceback" not in later, later[later.find("Traceback") - 500 :][:3000]


class Workshop(Harness):
    """The day played with the corpus, step by step: who posts what, who sees what."""

    async def play(self) -> None:
        s = self.server
        self.f = await Client(s, "facilitator").login().connect()
        a_name = PAYLOADS[4]  # <svg onload=…>, shown to A's team mates and on the panel
        self.a = await Client(s, "participant").join(a_name).connect()
        self.clients += [self.f, self.a]
        await self.open("panel", s.base + "/facilitator", self.f, False, DESK)
        await self.open("screen", s.base + "/screen", self.f, False, ROOM)
        await self.open("phone A", s.base + "/p", self.a, True, PHONE)
        await self.join_in_the_browser()
        await self.join_by_the_form()
        await self.ideas_step()
        await self.diagnosis_step()
        await self.axes_step()
        await self.teams_step(a_name)
        await self.later_steps()

    async def join_in_the_browser(self) -> None:
        """Phone B joins by the real form: a name too long comes back in the form, as typed,
        with the error beside it; then a name that fits."""
        page = await self.open("phone B", self.server.urls["join"], None, False, PHONE)
        too_long = PAYLOADS[-1]
        await page.evaluate("document.querySelector('#name').removeAttribute('maxlength')")
        await page.fill("#name", too_long)
        async with page.expect_navigation():
            await page.click("button[type=submit]")
        self.expect(await page.input_value("#name") == too_long, "refused name not kept as typed")
        alert = await page.locator(".feedback[role=alert]").inner_text()
        self.expect("40" in alert, f"no clear error for a name too long: {alert!r}")
        await self.check("phone B", [])
        name = payload(121)
        await page.fill("#name", name)
        async with page.expect_navigation():
            await page.click("button[type=submit]")
        self.b = Client(self.server, "participant")
        for cookie in await page.context.cookies():
            self.b.http.cookies.set(cookie["name"], cookie["value"])
        self.clients.append(await self.b.connect())
        self.names.append(outcome(name, "name")[0] or "")

    async def join_by_the_form(self) -> None:
        """Every payload as a name on the join form: kept, or refused with the form again and
        its error (HTTP 400). The first few named people are kept for the teams."""
        self.named: list[Client] = []
        self.named_names: list[str] = []
        for text in PAYLOADS:
            client = Client(self.server, "participant")
            response = client.http.post(
                f"/j/{self.server.join_code}", data={"name": text}, follow_redirects=False
            )
            kept, code = outcome(text, "name")
            if code is not None:
                self.expect(
                    response.status_code == 400 and 'role="alert">' in response.text,
                    f"name {text[:40]!r}: {response.status_code}",
                )
                self.counts["refused"] += 1
            else:
                self.expect(response.headers.get("location") == "/p", f"name {text[:40]!r}")
                self.counts["accepted"] += 1
                self.names.append(kept or "")
            if kept and len(self.named) < 4:
                self.named.append(client)
                self.named_names.append(kept)
                self.clients.append(client)
            else:
                client.http.close()

    async def ideas_step(self) -> None:
        self.step = "idees"
        typed = [
            ('Navigateur "><img src=x onerror=xss(190)>', payload(127), payload(128), payload(120)),
            (
                "Navigateur </textarea><svg onload=xss(191)>",
                payload(161),
                payload(130),
                payload(163),
            ),
        ]
        for title, description, need, place in typed:
            await self.type_into(
                "phone A",
                "#ideation-post",
                {
                    "#idea-title": title,
                    "#idea-description": description,
                    "#idea-need": need,
                    "#idea-place": place,
                },
            )
            self.ideas.append(
                {
                    f: outcome(t, f)[0] or ""
                    for f, t in zip(
                        ("title", "description", "need", "place"),
                        (title, description, need, place),
                        strict=True,
                    )
                }
            )
        kept = await self.post_corpus(
            [self.a], "idees", ["title", "description", "need", "place"], "Idée", lambda n: {}
        )
        self.ideas += [texts for _, texts in kept]
        every = [text for idea in self.ideas for text in idea.values()]
        titles = [idea["title"] for idea in self.ideas]
        await self.check_step(
            {"panel": every, "phone A": every, "phone B": titles, "screen": []},
            {"screen": (set(titles), min(SCREEN_CARDS, len(titles)))},
        )
        await shoot(self.pages["screen"], "xss-screen")
        phone = self.pages["phone A"]  # its own ideas, edit forms folded again
        await phone.evaluate(
            "() => document.querySelectorAll('details.edit').forEach((d) => { d.open = false; })"
        )
        await phone.evaluate(
            "() => document.querySelector('[data-region=personal] .card--mine')?.scrollIntoView()"
        )
        await shoot(phone, "xss-phone")
        await shoot(self.pages["panel"], "xss-panel")

    async def diagnosis_step(self) -> None:
        await self.next_step("problemes")
        self.posts = await self.post_corpus(
            [self.a, self.b],
            "problemes",
            ["title", "description"],
            "Problème",
            lambda n: {"theme": f"t{1 + n % 2}"},
        )
        titles = [texts["title"] for _, texts in self.posts]
        by = [[t.get("description", "") for who, t in self.posts if who == n] for n in (0, 1)]
        await self.check_step(
            {
                "panel": titles + by[0] + by[1],
                "phone A": titles + by[0],
                "phone B": titles + by[1],
                "screen": [],
            },
            {"screen": (set(titles), 24)},
        )

    async def axes_step(self) -> None:
        """Axis names are the facilitator's, shown to everyone: the corpus goes there too."""
        await self.next_step("axes")
        names = []
        for text in PAYLOADS:
            kept, code = outcome(text, "axis")
            if code is not None:
                await self.refused(self.f, "axes", {"name": text}, "name", code, "create")
            elif await self.accepted(self.f, "axes", "create", {"name": text}):
                names.append(kept or "")
        await self.check_step(
            {"panel": names, "phone A": names, "phone B": names, "screen": []},
            {"screen": (set(names), min(SCREEN_AXES, len(names)))},
        )

    async def teams_step(self, a_name: str) -> None:
        await self.next_step("equipes")  # one team per idea, named by the facilitator
        self.posted = [
            e["data"] for e in read_events(self.server.db) if e["kind"] == "ideation.posted"
        ]
        self.team_ids = [item_team_id(idea["idea"]) for idea in self.posted]
        for n, (team, idea) in enumerate(zip(self.team_ids, self.posted, strict=True)):
            text = PAYLOADS[n % len(PAYLOADS)]
            kept, code = outcome(text, "team")
            data = {"team": team, "name": text}
            if code is not None:
                await self.refused(self.f, "equipes", data, "name", code, "name_team")
            else:
                await self.accepted(self.f, "equipes", "name_team", data)
            self.teams[team] = kept or idea["title"]
        # A captains the first team, with two named people; two more people make two teams.
        await self.accepted(self.a, "equipes", "join", {"item": self.posted[0]["idea"]})
        await self.accepted(self.a, "equipes", "volunteer", {})
        for client, n in zip(self.named, (0, 0, 1, 2), strict=True):
            await client.connect()
            await self.accepted(client, "equipes", "join", {"item": self.posted[n]["idea"]})
        team_name = "Équipe <img src=x onerror=xss(192)>"
        await self.pages["phone A"].wait_for_selector("#teams-name-input")
        await self.type_into("phone A", "#teams-name", {"#teams-name-input": team_name})
        self.teams[self.team_ids[0]] = outcome(team_name, "team")[0] or ""
        titles = list(self.teams.values())
        names = [n for n in [*self.names, outcome(a_name, "name")[0]] if n]
        mates = self.named_names[:2]
        mine = [self.teams[self.team_ids[0]], self.ideas[0]["title"], *mates]  # all A sees now
        await self.check_step(
            {"panel": titles + names, "phone A": mine, "phone B": titles, "screen": []},
            {"screen": (set(titles), min(SCREEN_TEAMS, len(titles)))},
        )

    async def later_steps(self) -> None:
        """Pitches of the teams with people, the jury (named jurors), the restitution."""
        projects = [self.teams[t] for t in self.team_ids[:3]]
        first = self.ideas[0]
        await self.next_step("pitchs")
        sheet = [projects[0], first["title"], first["description"]]
        await self.check_step(
            {"screen": sheet, "panel": projects, "phone A": projects, "phone B": projects}
        )
        await self.next_step("jury")
        jury, jurors, first_juror = self.server.urls["jury"], [], None
        for text in (payload(103), payload(122), payload(147), PAYLOADS[-5]):
            juror = Client(self.server, "participant")
            response = juror.http.post(jury, data={"name": text})
            kept, code = outcome(text, "juror")
            if code is not None:
                self.expect(
                    response.status_code == 400 and 'role="alert">' in response.text,
                    f"juror {text!r}: {response.status_code}",
                )
                juror.http.close()
                continue
            self.clients.append(await juror.connect())
            jurors.append(kept or "")
            first_juror = first_juror or juror
            for team in self.team_ids[:3]:
                await self.accepted(
                    juror, "jury", "score", {"item": team, "criterion": "overall", "score": "3"}
                )
        await self.open("juror", self.server.base + "/p", first_juror, False, PHONE)
        for action in ("close", "reveal"):
            await self.accepted(self.f, "jury", action, {})
        await self.check_step(
            {
                "panel": projects + jurors,
                "screen": projects,
                "juror": projects,
                "phone A": projects,
                "phone B": projects,
            }
        )
        await self.next_step("palmares")
        for team, award in zip(self.team_ids[:2], ("prix", "mention"), strict=True):
            await self.accepted(self.f, "palmares", "give_award", {"item": team, "award": award})
        while (await self.f.act("publish", {}, "palmares"))["ok"]:
            pass
        await self.check_step(
            {"screen": projects, "panel": projects, "phone A": projects, "phone B": projects}
        )
        await shoot(self.pages["screen"], "xss-screen-results")


# -- CSP on every HTML response ------------------------------------------------------------------
def _nonce_csp(response: httpx.Response) -> None:
    where = f"{response.request.method} {response.url.path} ({response.status_code})"
    csp = response.headers.get("content-security-policy", "")
    if not response.headers.get("content-type", "").startswith("text/html"):
        assert "default-src 'none'" in csp, (where, csp)
        return
    match = re.search(r"script-src [^;]*'nonce-([A-Za-z0-9_\-]+)'", csp)
    assert match, (where, csp)
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, (where, csp)
    assert "default-src 'none'" in csp and "base-uri 'none'" in csp, (where, csp)
    scripts = re.findall(r"<script\b[^>]*>", response.text)
    assert scripts, where
    assert all(f'nonce="{match.group(1)}"' in tag for tag in scripts), (where, scripts)


def test_every_html_page_and_error_page_carries_a_nonce_csp(tmp_path: Path) -> None:
    kit = tmp_path / "xss.toml"
    kit.write_text(KIT, encoding="utf-8")
    server = Server(tmp_path / "csp.db", kit=str(kit)).start()
    code, jury = server.join_code, server.urls["jury"].replace(server.base, "")
    try:
        with httpx.Client(base_url=server.base, timeout=20) as http:
            pages = [
                http.get("/"),
                http.get(f"/j/{code}"),
                http.get("/j/ZZZZ-ZZZZ"),
                http.post("/j/ZZZZ-ZZZZ", data={"name": "x"}),
                http.post(f"/j/{code}", data={"name": PAYLOADS[-1]}),  # too long: form again
                http.get(jury),
                http.post(jury, data={"name": "\u200b"}),  # required: refused
                http.get("/jury/not-the-token"),
                http.post("/jury/not-the-token"),
                http.get("/f/not-the-secret"),
                http.get("/s/not-the-token"),
                http.get("/facilitator"),
                http.get("/screen"),
                http.get("/p"),
                http.get("/no/such/page"),
                http.get("/-/health"),
                http.get("/-/plugins.json"),
                http.get("/-/static/palabre.js"),
                http.get("/lang/en?next=/"),
            ]
            facilitator = Client(server, "facilitator").login()
            phone = Client(server, "participant").join("Page")
            juror = Client(server, "participant")
            assert juror.http.post(jury, data={"name": "Jurée"}).status_code == 200
            pages += [
                facilitator.http.get("/facilitator"),
                facilitator.http.get("/screen"),
                facilitator.http.get("/screen?preview=1"),
                phone.http.get("/p"),
                phone.http.get(f"/j/{code}"),
                juror.http.get("/p"),
            ]
            for client in (facilitator, phone, juror):
                client.http.close()
        html = [p for p in pages if p.headers.get("content-type", "").startswith("text/html")]
        assert len(html) >= 18, [str(p.url) for p in html]
        assert {p.status_code for p in html} >= {200, 400, 403, 404}
        for response in pages:
            _nonce_csp(response)
    finally:
        server.stop()


# -- static checks: where HTML is written --------------------------------------------------------
HTML_SINKS = re.compile(
    r"\.(innerHTML|outerHTML)\s*[+]?=|insertAdjacentHTML|document\.write|createContextualFragment"
    r"|setHTMLUnsafe|parseHTMLUnsafe|DOMParser|\.srcdoc\s*=|\beval\s*\(|new\s+Function\s*\("
)
# The only lines allowed to write HTML, exactly (stripped), each with its reason.
ALLOWED_SINKS = [
    (
        "displays/static/morph.js",
        "tpl.innerHTML = html;         // trusted: rendered and escaped by the server's Jinja",
        "a region from a `view` message, rendered by the server with autoescape, parsed in an "
        "inert <template>, then morphed in",
    ),
]


def test_client_javascript_writes_html_only_from_the_servers_escaped_regions() -> None:
    scripts = sorted(ROOT.glob("displays/static/*.js")) + sorted(ROOT.glob("plugins/*/static/*.js"))
    assert scripts, "no client script found"
    found: dict[str, set[str]] = {}
    for path in scripts:
        for line in path.read_text(encoding="utf-8").splitlines():
            if HTML_SINKS.search(line):
                found.setdefault(str(path.relative_to(ROOT)), set()).add(line.strip())
    allowed: dict[str, set[str]] = {}
    for name, line, _reason in ALLOWED_SINKS:
        allowed.setdefault(name, set()).add(line)
    assert found == allowed, f"HTML sinks in client JS changed: {found}"


SAFE_FILTER = re.compile(r"\{\{[^}]*\|\s*safe\b[^}]*\}\}")
ALLOWED_SAFE = {  # template -> the expressions allowed to skip escaping, each with its reason
    "displays/templates/facilitator.html": {"regions.chrome", "regions.main"},
    "displays/templates/participant.html": {"regions.chrome", "regions.main", "regions.personal"},
    "displays/templates/screen.html": {"regions.chrome", "regions.main", "regions.join"},
    # the QR code's SVG, drawn by segno from the join URL (no user text)
    "displays/templates/join_panel.html": {"join.qr_svg"},
}


def test_templates_skip_escaping_only_for_server_rendered_regions() -> None:
    found: dict[str, set[str]] = {}
    templates = sorted(ROOT.glob("displays/templates/*.html"))
    templates += sorted(ROOT.glob("plugins/*/templates/*.html"))
    for path in templates:
        text = path.read_text(encoding="utf-8")
        assert "autoescape false" not in text.replace("  ", " ").lower(), path
        for expression in SAFE_FILTER.findall(text):
            name = expression.strip("{} ").split("|")[0].strip()
            found.setdefault(str(path.relative_to(ROOT)), set()).add(name)
    assert found == ALLOWED_SAFE, f"|safe in templates changed: {found}"
    for path in [*ROOT.glob("engine/*.py"), *ROOT.glob("plugins/*/*.py")]:
        text = path.read_text(encoding="utf-8")
        assert "autoescape=False" not in text, path
        name = str(path.relative_to(ROOT))
        assert ("Markup(" in text) == (name in ALLOWED_MARKUP), f"Markup( in {name} changed"


ALLOWED_MARKUP = {  # module -> why it may mark a string as safe HTML
    # The report's bar charts: SVG built from numbers, every title passed through escape().
    "engine/charts.py",
    # The report's stylesheet, inlined: a file shipped in the package, no user text.
    "engine/report.py",
}


def test_chart_titles_are_escaped() -> None:
    from palabre.engine.charts import bar_chart

    svg = str(bar_chart([("<script>alert(1)</script>", 3)], label='"><img src=x>'))
    assert "<script>" not in svg and "<img" not in svg
    assert "&lt;script&gt;" in svg and "&#34;&gt;&lt;img" in svg
