"""Hostile texts: stored-XSS payloads that residents could type into any text field
(RELIABILITY row 6), and Hypothesis strategies over all of Unicode (row 7); the workshop kit
both tests play, and the browser harness of tests/test_xss.py.

Each payload, if it ever ran, would call `xss(N)` (a marker the browser test installs) or
`alert(N)` (a dialog the test listens for), or set `document.title = 'pwned'`. Each N is
three digits and used once, so a payload's text never hides inside another's. Some are meant
to be refused by the validators (too long, empty-looking): the test computes which with
`palabre.engine.text.clean_text`, field by field, rather than listing them here.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from hypothesis import strategies as st

from browser import ARTIFACTS
from palabre.engine import Rejection, clean_text
from support import Client, Server

PAYLOADS: list[str] = [
    # -- classic tags and handlers -------------------------------------------------------------
    "<script>xss(101)</script>",
    "<script>alert(102);xss(102)</script>",
    "<img src=x onerror=xss(103)>",
    '<img src="x" onerror="alert(104);xss(104)">',
    "<svg onload=xss(105)>",
    "<svg><script>xss(106)</script></svg>",
    "<body onload=xss(107)>",
    "<input autofocus onfocus=xss(108)>",
    "<details open ontoggle=xss(109)>",
    "<video><source onerror=xss(110)></video>",
    "<svg><animate onbegin=xss(111) attributeName=x dur=1s>",
    "<marquee onstart=xss(112)>m</marquee>",
    "<select autofocus onfocus=xss(113)></select>",
    "<x contenteditable onfocus=xss(114) autofocus>x</x>",
    "<script src=x onerror=xss(115)></script>",
    "<img src=x onerror=xss(116)//",
    "<SCRIPT>xss(117)</SCRIPT>",
    "<scr<script>ipt>xss(118)</scr</script>ipt>",
    "<<script>xss(119)//<</script>",
    # -- attribute break-outs (the text sits in value="…" of edit forms, in <option>, …) -------
    '"><script>xss(120)</script>',
    '"><img src=x onerror=xss(121)>',
    "'><img src=x onerror=xss(122)>",
    "' onmouseover='xss(123)' x='",
    '" autofocus onfocus="xss(124)" x="',
    '" data-action="next" data-step="" x="125',
    "`><img src=x onerror=xss(126)>",
    # -- closing the element the text sits in ------------------------------------------------
    "</textarea><script>xss(127)</script>",
    "</title><script>xss(128)</script>",
    "</p><img src=x onerror=xss(129)>",
    "</script><script>xss(130)</script>",
    "</option></select><img src=x onerror=xss(131)>",
    "--><img src=x onerror=xss(132)>",
    "]]><img src=x onerror=xss(133)>",
    # -- URLs -----------------------------------------------------------------------------------
    "javascript:xss(134)",
    '<a href="javascript:xss(135)">clic 135</a>',
    "<a href=javascript:alert(136)>clic 136</a>",
    '<a href="jav&#x09;ascript:xss(137)">clic 137</a>',
    '<a href="data:text/html,<script>alert(138)</script>">138</a>',
    "data:text/html;base64,PHNjcmlwdD54c3MoMTM5KTwvc2NyaXB0Pg== 139",
    '<iframe src="javascript:parent.xss(140)"></iframe>',
    '<iframe srcdoc="<script>parent.xss(141)</script>"></iframe>',
    '<object data="javascript:xss(142)"></object>',
    '<embed src="javascript:xss(143)">',
    '<base href="javascript:xss(144)//">',
    '<meta http-equiv="refresh" content="0;url=javascript:xss(145)">',
    '<svg><a href="javascript:xss(146)"><text y=20>146</text></a></svg>',
    # -- template syntax (Jinja on the server, template literals in the client) ----------------
    "{{ 7*7 }} 147",
    "{% for i in range(3) %}{{ i }}{% endfor %} 148",
    "{{ lipsum.__globals__['os'].popen('id').read() }} 149",
    "{# comment #}{%- raw -%} 150",
    "${alert(151)} ${xss(151)}",
    "`${xss(152)}`",
    # -- entities, escapes, look-alikes ----------------------------------------------------------
    "&lt;script&gt;xss(153)&lt;/script&gt;",
    "&#60;img src=x onerror=xss(154)&#62;",
    "<img src=x onerror=&#x78;ss(155)>",
    "\\u003cscript\\u003exss(156)\\u003c/script\\u003e",
    "%3Cscript%3Exss(157)%3C%2Fscript%3E",
    "\uff1cscript\uff1exss(158)\uff1c/script\uff1e",
    # -- mutation XSS: markup that changes meaning when parsed again --------------------------
    "<math><mtext><table><mglyph><style><img src=x onerror=xss(159)>",
    "<style><img src=x onerror=xss(160)></style>",
    '<noscript><p title="</noscript><img src=x onerror=xss(161)>">',
    "<form><math><mtext></form><form><mglyph><style></math><img src onerror=xss(162)>",
    "<template><img src=x onerror=xss(163)></template>",
    "<!--<img src=x onerror=xss(164)>-->",
    '<svg><style><img src=x onerror="xss(165)"></style></svg>',
    # -- CSS ------------------------------------------------------------------------------------
    '<div style="width:expression(xss(166))">166</div>',
    '<div style="background:url(javascript:xss(167))">167</div>',
    "<style>body{background:url(javascript:xss(168))}</style>",
    # -- forged page parts (our client acts on data-action, fills data-region) -----------------
    '<button data-action="next" data-step="">Étape 169</button>',
    '<div data-region="main">170</div>',
    '<form data-action="hide"><input name=idea value=x></form> 171',
    "<script>document.title='pwned'</script> 172",
    # -- control characters, Unicode -------------------------------------------------------------
    "<scr\x00ipt>xss(173)</scr\x00ipt>",
    "<img src=x\x00 onerror=xss(174)>",
    "<img\tsrc=x\nonerror=xss(175)>",
    "\u202e<img src=x onerror=xss(176)>",
    "Cafe\u0301 <i onclick=xss(177)>177</i>",
    "مرحبا <b onmouseover=xss(178)>178</b>",
    "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466<svg onload=xss(179)>",
    # -- refused by the validators: empty-looking, too long ---------------------------------------
    "\u200b\u200c\u200d\ufeff\u2060",
    "   \t  ",
    "\u202e\u2066\u2069",
    "<script>xss(183)</script>" * 20,
    "<img src=x onerror=xss(184)>" * 4,
]

# -- Unicode abuse (row 7): texts from all of Unicode, and the shapes that break things ------
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f"
ZERO_WIDTH = "\u200b\u200c\u200d\ufeff\u2060"
SURROGATE = re.compile("[\ud800-\udfff]")

PEOPLE = "\U0001f468 \U0001f469 \U0001f467 \U0001f466 \U0001f3f3\ufe0f \U0001f308 \u2764\ufe0f"
PEOPLE = [*PEOPLE.split(), "\U0001f9d1\U0001f3fd", "\U0001f91d"]
regional = st.integers(0x1F1E6, 0x1F1FF).map(chr)
pieces = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=40),  # all of Unicode, surrogates too
    st.integers(0xD800, 0xDFFF).map(chr),  # a lone surrogate
    st.text(st.sampled_from(BIDI + " \t\n\r\x00\u3000\u00a0"), min_size=1, max_size=6),
    st.text(st.sampled_from(ZERO_WIDTH), min_size=1, max_size=8),  # zero-width only
    st.lists(st.sampled_from(PEOPLE), min_size=2, max_size=12).map("\u200d".join),  # ZWJ
    st.tuples(regional, regional).map("".join),  # a flag
    st.text(st.sampled_from("gbsctwlen"), min_size=2, max_size=8).map(  # a tag-sequence flag
        lambda tag: "\U0001f3f4" + "".join(chr(0xE0000 + ord(c)) for c in tag) + "\U000e007f"
    ),
    st.tuples(
        st.sampled_from("aexZ\u05e9"),
        st.text(st.characters(categories=["Mn"]), min_size=1, max_size=60),
    ).map("".join),
    st.sampled_from(["e\u0301", "\u0301", "Caf\u00e9", "\u05e9\u05dc\u05d5\u05dd 12", "ab"]),
)
TEXTS = st.lists(pieces, max_size=8).map("".join)
LONG_TEXTS = st.tuples(pieces, st.integers(1, 90)).map(lambda pair: pair[0] * pair[1])
ANY_TEXT = st.one_of(TEXTS, TEXTS, LONG_TEXTS)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | ANY_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(ANY_TEXT, inner, max_size=3),
    max_leaves=6,
)


# How the server checks each field (kit of tests/test_xss.py; engine/joining.py for names,
# plugins/teams for team names): the arguments it gives `clean_text`.
FIELDS: dict[str, dict[str, Any]] = {
    "name": {"max_graphemes": 40, "required": False},
    "juror": {"max_graphemes": 40, "required": True},
    "title": {"max_graphemes": 80},
    "description": {"max_graphemes": 280, "required": False, "multiline": True},
    "need": {"max_graphemes": 300, "required": False, "multiline": True},
    "place": {"max_graphemes": 120, "required": False},
    "team": {"max_graphemes": 40, "required": False},
    "axis": {"max_graphemes": 60},
}


# The workshop both tests/test_xss.py and tests/test_unicode_wire.py play: every activity
# where people (or the facilitator) write text, and every surface that shows it later.
KIT = """
[workshop]
title = "Atelier"
language = "fr"

[[steps]]
id = "idees"
activity = "ideation"
title = "Idées"
show_join = true
[steps.config]
max_ideas_per_participant = 100
extra_fields = [
  { name = "need", label = "Le besoin", max_length = 300, multiline = true },
  { name = "place", label = "Le lieu", max_length = 120 },
]

[[steps]]
id = "problemes"
activity = "diagnosis"
title = "Diagnostic"
[steps.config]
max_problems_per_participant = 50
screen_cards_per_theme = 12
themes = [{ id = "t1", title = "Thème un" }, { id = "t2", title = "Thème deux" }]

[[steps]]
id = "axes"
activity = "axes"
title = "Axes"
from = "problemes"
[steps.config]
max_axes = 100

[[steps]]
id = "equipes"
activity = "teams"
title = "Équipes"
from = "idees"
[steps.config]
mode = "first_come"
min_size = 1
max_size = 7

[[steps]]
id = "pitchs"
activity = "pitches"
title = "Pitchs"
from = "equipes"

[[steps]]
id = "jury"
activity = "jury"
title = "Jury"
from = "pitchs"

[[steps]]
id = "palmares"
activity = "results"
title = "Palmarès"
from = "jury"
[steps.config]
awards = [{ id = "prix", label = "Prix" }, { id = "mention", label = "Mention" }]
"""


def outcome(payload: str, field: str) -> tuple[str | None, str | None]:
    """(the text the server keeps, None), or (None, the refusal's code)."""
    try:
        return clean_text(payload, field=field, **FIELDS[field]), None
    except Rejection as rejection:
        return None, rejection.code


# -- the browser harness of tests/test_xss.py ---------------------------------------------------
DESK = {"viewport": {"width": 1366, "height": 768}}
ROOM = {"viewport": {"width": 1920, "height": 1080}}
MARKER = "window.__xss = []; window.xss = (n) => window.__xss.push(n);"
# Both sides compared with whitespace collapsed, as HTML shows it; folded parts unfolded.
SHOWN = """(texts) => {
  document.querySelectorAll('details:not([open])').forEach((d) => { d.open = true; });
  const norm = (s) => s.replace(/\\s+/g, ' ').trim(), shown = norm(document.body.innerText);
  return texts.filter((t) => !shown.includes(norm(t)));
}"""
CARD_TITLES = """() => Array.from(document.querySelectorAll('[data-region=main] .card__title'),
  (e) => e.innerText.replace(/\\s+/g, ' ').trim())"""
# What a payload would leave behind had the page parsed it as markup: elements and
# attributes our templates never produce, page parts (actions, regions) inside user text.
INJECTED = """() => {
  const scripts = ['/-/static/palabre.js', '/-/static/morph.js'];
  const bad = [], ours = (el) =>
    (el.tagName === 'SCRIPT' && scripts.includes(el.getAttribute('src'))) ||
    (el.tagName === 'IFRAME' && el.getAttribute('src') === '/screen?preview=1') ||
    (el.closest('svg') && (el.closest('svg.bar__track') || el.closest('.join-qr'))) ||
    (el.tagName === 'I' && el.parentElement.classList.contains('confetti')) ||
    (el.tagName === 'B' && el.parentElement.classList.contains('results-trail__part'));
  const never = 'script, iframe, object, embed, math, style, base, meta, link, template, ' +
    'noscript, marquee, video, audio, source, img, x, svg, animate, i, b';
  for (const el of document.body.querySelectorAll('*')) {
    const what = el.outerHTML.slice(0, 90);
    for (const a of el.attributes) {
      if (/^on/i.test(a.name) || a.name === 'style' || a.name === 'srcdoc') bad.push(what);
    }
    if (el.matches('a[href]') && !el.getAttribute('href').startsWith('/')) bad.push(what);
    if (el.matches(never) && !ours(el)) bad.push(what);
    const holder = el.parentElement && el.parentElement.closest('[dir=auto], bdi');
    const parts = '[data-action], [data-region], form, input, button, a';
    if (holder && el.matches(parts)) bad.push(what);
  }
  return {bad, hits: window.__xss || [], title: document.title};
}"""


class Harness:
    """Pages in Chromium and phones over the WebSocket, for one workshop played with the
    corpus: what each page must show, and everything that went wrong (collected, so one run
    reports every failure)."""

    def __init__(self, server: Server, chromium: Any) -> None:
        self.server, self.chromium = server, chromium
        self.pages: dict[str, Any] = {}
        self.clients: list[Client] = []
        self.problems: list[str] = []
        self.console: list[str] = []
        self.counts = {"accepted": 0, "refused": 0, "page checks": 0}
        self.ideas: list[dict[str, str]] = []  # what the server kept, in posting order
        self.posts: list[tuple[int, dict[str, str]]] = []  # diagnosis: (author, texts)
        self.names: list[str] = []
        self.teams: dict[str, str] = {}  # team id -> title shown
        self.step, self.fresh = "joining", False
        self.paces: dict[int, Pace] = {}

    def expect(self, condition: bool, message: str) -> None:
        if not condition:
            self.problems.append(message)

    def summary(self) -> str:
        return (
            f"{len(PAYLOADS)} payloads; {self.counts}; "
            f"console messages: {len(self.console)} {self.console[:5]}"
        )

    # -- pages -----------------------------------------------------------------------------------
    async def open(
        self, name: str, url: str, client: Client | None, csp: bool, options: dict[str, Any]
    ) -> Any:
        context = await self.chromium.new_context(bypass_csp=not csp, **options)
        await context.add_init_script(MARKER)
        if client is not None:
            await context.add_cookies(
                [
                    {"name": c.name, "value": c.value, "url": self.server.base}
                    for c in client.http.cookies.jar
                ]
            )
        page = await context.new_page()

        async def dialog(d: Any) -> None:
            self.problems.append(f"{name}: a dialog opened: {d.message!r}")
            await d.dismiss()

        page.on("dialog", dialog)
        page.on(
            "console",
            lambda m: (
                self.console.append(f"{name}: {m.text[:200]}")
                if m.type in ("error", "warning")
                else None
            ),
        )
        page.on("pageerror", lambda e: self.problems.append(f"{name}: script error {e}"))
        await page.goto(url)
        self.pages[name] = page
        await self.preview_loaded(name)
        return page

    async def preview_loaded(self, name: str) -> None:
        """The panel's screen preview (folded, loaded lazily) is open and loaded: checked too."""
        page = self.pages[name]
        if name != "panel":
            return
        try:
            await page.evaluate(
                "() => { document.querySelector('details.screen-preview').open = true; }"
            )
            await page.locator("details.screen-preview iframe").scroll_into_view_if_needed()
            await page.frame_locator("details.screen-preview iframe").locator("main").wait_for()
            await page.evaluate("() => window.scrollTo(0, 0)")
        except Exception as exc:
            self.problems.append(f"{self.step}: the panel's screen preview did not load: {exc}")

    async def check(
        self, name: str, texts: list[str], cards: set[str] | None = None, least: int = 0
    ) -> None:
        """Every text shown, card titles exactly as kept, nothing injected or run."""
        page = self.pages[name]
        where = f"{self.step}, {name} ({page.url}{', fresh load' if self.fresh else ''})"
        texts = [t for t in texts if t]
        self.counts["page checks"] += 1
        try:
            await page.wait_for_function(
                f"(texts) => ({SHOWN})(texts).length === 0", arg=texts, polling=250, timeout=20_000
            )
        except Exception:
            missing = await page.evaluate(SHOWN, texts)
            self.problems.append(f"{where}: {len(missing)} texts not shown, e.g. {missing[:3]}")
        if cards is not None:
            titles = await page.evaluate(CARD_TITLES)
            strange = [t for t in titles if t not in cards]
            self.expect(not strange, f"{where}: card titles not as kept: {strange[:3]}")
            self.expect(len(titles) >= least, f"{where}: {len(titles)} cards, want {least}")
        for frame in page.frames:
            try:
                found = await asyncio.wait_for(frame.evaluate(INJECTED), 15)
            except Exception as exc:  # a frame that is not ours (injected) cannot be read
                self.problems.append(f"{where}: unreadable frame {frame.url}: {exc}")
                continue
            self.expect(not found["bad"], f"{where}: markup from user text: {found['bad'][:3]}")
            self.expect(not found["hits"], f"{where}: payloads ran: {found['hits']}")
            self.expect(found["title"] != "pwned", f"{where}: document.title was set")

    async def check_step(
        self, expected: dict[str, list[str]], cards: dict[str, tuple[set[str], int]] | None = None
    ) -> None:
        """Live (the pages were open when the text arrived), then after a fresh load."""
        cards = cards or {}
        for fresh in (False, True):
            self.fresh = fresh
            for name, texts in expected.items():
                if fresh:
                    await self.pages[name].reload()
                    await self.preview_loaded(name)
                await self.check(name, texts, *cards.get(name, (None, 0)))

    # -- acting ----------------------------------------------------------------------------------
    async def next_step(self, step: str) -> None:
        self.step = step
        await self.accepted(self.f, None, "next", {})

    async def act(
        self, client: Client, action: str, data: dict[str, Any], step: str | None
    ) -> dict[str, Any]:
        while True:
            if client.audience == "participant":
                await self.paces.setdefault(id(client), Pace()).take()
            ack = await client.act(action, data, step)
            if ack["ok"] or ack["error"]["code"] != "slow_down":
                return ack
            await asyncio.sleep(0.5)  # a phone's fair rate: wait as a person would

    async def refused(
        self,
        client: Client,
        step: str,
        data: dict[str, Any],
        field: str,
        code: str,
        action: str = "post",
    ) -> None:
        ack = await self.act(client, action, data, step)
        error = ack.get("error") or {}
        self.expect(
            not ack["ok"]
            and error.get("code") == code
            and error.get("message")
            and error.get("field") == field,
            f"{field} {data[field][:40]!r}: {ack}",
        )
        self.counts["refused"] += 1

    async def accepted(
        self, client: Client, step: str | None, action: str, data: dict[str, Any]
    ) -> bool:
        ack = await self.act(client, action, data, step)
        self.expect(ack["ok"], f"{action} {str(data)[:80]}: {ack}")
        self.counts["accepted"] += 1
        return bool(ack["ok"])

    async def post_corpus(
        self, authors: list[Client], step: str, fields: list[str], fallback: str, extra: Any
    ) -> list[tuple[int, dict[str, str]]]:
        """Each payload through each field: in a post when the field keeps it, alone (and
        refused, naming its field) when it does not. Sent without waiting for each answer,
        within a phone's fair rate."""
        jobs, kept = [], {}
        for n, payload in enumerate(PAYLOADS):
            who, data, texts = n % len(authors), dict(extra(n)), {}
            socket = authors[who]
            for field in fields:
                text, code = outcome(payload, field)
                texts[field] = text or ""
                if code is None:
                    data[field] = payload
                else:
                    alone = {**extra(n), "title": f"{fallback} refusé {n}", field: payload}
                    jobs.append(self.refused(socket, step, alone, field, code))
            data.setdefault("title", f"{fallback} {n}")
            texts["title"] = texts["title"] or data["title"]
            kept[n] = (who, texts)
            jobs.append(self.accepted(socket, step, "post", data))
        await asyncio.gather(*jobs)
        return [kept[n] for n in sorted(kept)]

    async def type_into(self, name: str, form: str, fields: dict[str, str]) -> None:
        """Typed in the real form on a phone, sent by the page's own script."""
        page = self.pages[name]
        for selector, value in fields.items():
            await page.fill(selector, value)
        await page.click(f"{form} button[type=submit]")
        await page.wait_for_function(f"() => !document.querySelector('{form}[aria-busy]')")

    # -- the day ---------------------------------------------------------------------------------
    async def close(self) -> None:
        for client in self.clients:
            await client.close()


class Pace:
    """A phone's fair rate, below the server's (engine/live.py: a burst of 40, then 20/s)."""

    def __init__(self, burst: float = 30, per_second: float = 15) -> None:
        self.tokens, self.burst, self.per_second = burst, burst, per_second
        self.stamp = time.monotonic()

    async def take(self) -> None:
        while True:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.per_second)
            self.stamp = now
            if self.tokens >= 1:
                self.tokens -= 1
                return
            await asyncio.sleep((1 - self.tokens) / self.per_second)


def payload(number: int) -> str:
    return next(p for p in PAYLOADS if str(number) in p)


async def shoot(page: Any, name: str) -> None:
    """A screenshot once arrival animations are over, into tests/artifacts/."""
    await page.wait_for_function(
        "() => document.getAnimations().every((a) => a.playState !== 'running')"
    )
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
