"""Simulated phones: they join through the real join flow, open the real WebSocket, read the
HTML they are sent and, at a human pace, fill the forms and tap the buttons they see.

They know no activity: any activity whose participant page uses `form[data-action]` and
`button[data-action]` (with `data-sim` hints on text fields) can be played by them. Used by
`palabre demo` and by the day-long tests.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import random
import uuid
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode, urlsplit

import websockets

from .sample_text import sample

MAX_FORM_SUBMITS = 2  # per form and step: people post an idea or two, not fifty
MAX_BUTTON_TAPS = 12  # per step


@dataclass
class Control:
    kind: str  # "form" or "button"
    action: str
    step: str | None
    data: dict[str, str] = field(default_factory=dict)
    fields: list[dict[str, Any]] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.step}:{self.action}"


class ControlParser(HTMLParser):
    """Finds the forms and buttons a participant could use in a region's HTML."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[Control] = []
        self._form: Control | None = None
        self._select: dict[str, Any] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and "data-action" in a:
            self._form = Control("form", a["data-action"], a.get("data-step") or None)
        elif self._form is not None and tag in ("input", "textarea", "select"):
            kind = a.get("type", "text") if tag == "input" else tag
            entry = {
                "tag": tag,
                "type": kind,
                "name": a.get("name", ""),
                "options": [],
                "value": a.get("value", ""),
                "sim": a.get("data-sim", ""),
                "disabled": "disabled" in a,
            }
            if entry["name"]:
                self._form.fields.append(entry)
            if tag == "select":
                self._select = entry
        elif tag == "option" and self._select is not None and a.get("value"):
            if "disabled" not in a:
                self._select["options"].append(a["value"])
        elif tag == "button" and self._form is None and "data-action" in a:
            if "disabled" in a or a.get("data-sim") == "skip":
                return
            args = {k[9:]: v for k, v in a.items() if k.startswith("data-arg-")}
            self.controls.append(
                Control("button", a["data-action"], a.get("data-step") or None, args)
            )

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self._form is not None:
            self.controls.append(self._form)
            self._form = None
        elif tag == "select":
            self._select = None


def controls_in(html: str) -> list[Control]:
    parser = ControlParser()
    parser.feed(html)
    return parser.controls


@dataclass
class SimulatedPhone:
    base_url: str
    join_code: str
    name: str
    lang: str = "fr"
    table: int | None = None
    captain: bool = False
    rng: random.Random = field(default_factory=random.Random)
    pace: float = 3.0  # mean seconds between two actions
    cookie: str = ""
    regions: dict[str, str] = field(default_factory=dict)
    sent: Counter[str] = field(default_factory=Counter)
    results: Counter[str] = field(default_factory=Counter)

    async def join(self) -> None:
        form = {"name": self.name}
        if self.table is not None:
            form["table"] = str(self.table)
        if self.captain:
            form["captain"] = "on"
        self.cookie = await asyncio.to_thread(_post_join, self.base_url, self.join_code, form)

    async def run(self, stop: asyncio.Event) -> None:
        """Stay connected and act until `stop` is set; reconnect if the server drops us."""
        while not stop.is_set():
            try:
                await self._session(stop)
            except (OSError, websockets.WebSocketException):
                await asyncio.sleep(1 + self.rng.random())

    async def _session(self, stop: asyncio.Event) -> None:
        url = self.base_url.replace("http", "ws", 1) + "/ws?as=participant"
        async with websockets.connect(
            url,
            origin=self.base_url,  # type: ignore[arg-type]
            additional_headers={"Cookie": self.cookie},
            max_size=2**22,
        ) as ws:
            reader = asyncio.create_task(self._read(ws))
            try:
                while not stop.is_set():
                    delay = self.pace * (0.5 + self.rng.random())
                    try:
                        await asyncio.wait_for(stop.wait(), delay)
                    except TimeoutError:
                        await self._act(ws)
            finally:
                reader.cancel()

    async def _read(self, ws: Any) -> None:
        async for raw in ws:
            message = json.loads(raw)
            if message.get("type") == "view":
                self.regions.update(message["regions"])
            elif message.get("type") == "ack":
                code = "ok" if message["ok"] else message["error"]["code"]
                self.results[code] += 1

    def choose(self, regions: dict[str, str]) -> tuple[Control, dict[str, str]] | None:
        """The control this phone uses next among those REGIONS show, and what it types
        (counted as sent); None when there is nothing left to do."""
        choices = [
            c for region in ("personal", "main") for c in controls_in(regions.get(region, ""))
        ]
        choices = [c for c in choices if self.sent[c.key] < self._limit(c)]
        if not choices:
            return None
        control = self.rng.choice(choices)
        data = self._fill(control) if control.kind == "form" else dict(control.data)
        self.sent[control.key] += 1
        return control, data

    async def _act(self, ws: Any) -> None:
        chosen = self.choose(self.regions)
        if chosen is None:
            return
        control, data = chosen
        await ws.send(
            json.dumps(
                {
                    "type": "act",
                    "id": uuid.uuid4().hex,
                    "step": control.step,
                    "action": control.action,
                    "data": data,
                }
            )
        )

    @staticmethod
    def _limit(control: Control) -> int:
        return MAX_FORM_SUBMITS if control.kind == "form" else MAX_BUTTON_TAPS

    def _fill(self, form: Control) -> dict[str, str]:
        data: dict[str, str] = {}
        for f in form.fields:
            if f["disabled"] or f["type"] in ("checkbox", "radio", "submit", "button"):
                continue
            if f["type"] == "hidden":
                data[f["name"]] = f["value"]
            elif f["tag"] == "select":
                # Several selects in one form are a ranking: people pick distinct choices.
                fresh = [o for o in f["options"] if o not in data.values()] or f["options"]
                if fresh:
                    data[f["name"]] = self.rng.choice(fresh)
            elif f["type"] == "number":
                data[f["name"]] = str(self.rng.randint(1, 5))
            else:
                data[f["name"]] = f["value"] or sample(f["sim"] or f["name"], self.lang, self.rng)
        return data


def _post_join(base_url: str, join_code: str, form: dict[str, str]) -> str:
    """The join form, as a browser posts it; returns the participant cookie it sets."""
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=30)
    try:
        conn.request(
            "POST",
            f"/j/{join_code}",
            urlencode(form),
            {"Content-Type": "application/x-www-form-urlencoded"},
        )
        response = conn.getresponse()
        response.read()
        cookies = [
            v.split(";", 1)[0]
            for k, v in response.getheaders()
            if k.lower() == "set-cookie" and v.startswith("palabre_p=")
        ]
        if response.status != 303 or not cookies:
            raise RuntimeError(f"join refused: HTTP {response.status}")
        return cookies[0]
    finally:
        conn.close()


def make_phones(
    base_url: str,
    join_code: str,
    count: int,
    lang: str,
    tables: int,
    seed: int = 1,
    pace: float = 3.0,
) -> list[SimulatedPhone]:
    """`count` phones; with tables, seated in turn, the first at each table its captain."""
    master = random.Random(seed)
    phones = []
    for n in range(count):
        table = (n % tables) + 1 if tables else None
        phones.append(
            SimulatedPhone(
                base_url,
                join_code,
                name=f"{sample('name', lang, master)} {n + 1}",
                lang=lang,
                table=table,
                captain=bool(tables) and n < tables,
                rng=random.Random(master.random()),
                pace=pace,
            )
        )
    return phones


async def play(phones: list[SimulatedPhone], stop: asyncio.Event) -> None:
    """Join everyone (a few at a time, as people scan the QR), then play until `stop`."""
    for phone in phones:
        if not phone.cookie:  # a phone plays several steps with the same identity
            await phone.join()
    await asyncio.gather(*(phone.run(stop) for phone in phones))
