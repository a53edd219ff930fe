"""Many workshops on one host name (issue 9): each worker serves its workshop under a path of
its public URL, and nginx or Caddy, configured as docs/deployment.md writes it, routes each
path to its workshop's worker. One browser takes part in two workshops at once and keeps
both identities; a real Chromium joins through the proxy, gets the styled page and its live
socket under the path.

The routing is by path, which the operator chooses, rather than by the join code, which the
workshop draws: docs/deployment.md says why."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from cluster import nginx_command
from test_postgres_store import URL, fresh_name
from test_proxy_failover import DOC, require

from browser import PHONE, browser, screenshot  # noqa: F401  (fixture)
from palabre.engine.pg_store import read_postgres_log
from support import Client, Server, _wait_for_port, close_all, free_port, run

SHARED_HOST = "ateliers.example.org"
PORTS = {"amiens": ("8001", "8002"), "lille": ("8011", "8012")}


def documented(kind: str) -> str:
    found = re.search(rf"<!-- tested: {kind} paths -->\n```{kind}\n(.*?)```",
                      DOC.read_text("utf-8"), re.S)  # fmt: skip
    assert found, f"docs/deployment.md has no tested {kind} paths block"
    return found[1]


def with_ports(block: str, owners: dict[str, int]) -> str:
    for workshop, (owner, standby) in PORTS.items():
        block = block.replace(f"127.0.0.1:{owner}", f"127.0.0.1:{owners[workshop]}")
        block = block.replace(f"127.0.0.1:{standby}", f"127.0.0.1:{free_port()}")
    return block


def proxy_command(kind: str, folder: Path, port: int, owners: dict[str, int]) -> list[str]:
    block = with_ports(documented(kind), owners)
    if kind == "nginx":
        return nginx_command(require("nginx"), folder, block, port)
    block = block.replace(SHARED_HOST, f"http://127.0.0.1:{port}")
    (folder / "Caddyfile").write_text("{\n\tadmin off\n}\n\n" + block, encoding="utf-8")
    return [require("caddy"), "run", "--config", str(folder / "Caddyfile"), "--adapter",
            "caddyfile"]  # fmt: skip


class Workshops:
    """Two workers on PostgreSQL, amiens and lille, behind one proxy on one address."""

    def __init__(self, kind: str, folder: Path) -> None:
        self.port = free_port()
        self.names = {w: fresh_name() for w in PORTS}
        self.workers = {
            w: Server(folder / "unused.db", args=["--store", URL, "--workshop", name,
                      "--public-url", f"http://127.0.0.1:{self.port}/{w}"])  # fmt: skip
            for w, name in self.names.items()
        }
        for worker in self.workers.values():
            worker.start()
        owners = {w: s.port for w, s in self.workers.items()}
        command = proxy_command(kind, folder, self.port, owners)
        self.proxy = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, text=True, cwd=folder)  # fmt: skip
        _wait_for_port(self.port, time.monotonic() + 20)
        self.front = {w: self._front(folder, w) for w in PORTS}

    def _front(self, folder: Path, workshop: str) -> Server:
        """The proxy as the workshop's phones see it: its address, with the path."""
        front = Server(folder / "unused.db", port=self.port, path=f"/{workshop}")
        front.urls = self.workers[workshop].urls
        return front

    def ideas(self, workshop: str) -> set[str]:
        log = read_postgres_log(URL, self.names[workshop])
        return {e.data["title"] for e in log.events if e.kind == "ideation.posted"}

    def stop(self) -> None:
        self.proxy.send_signal(signal.SIGTERM)
        try:
            self.proxy.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proxy.kill()
        for worker in self.workers.values():
            worker.stop()


@pytest.mark.parametrize("kind", ["nginx", "caddy"])
def test_two_workshops_share_a_host_name_and_one_browser_takes_part_in_both(
    kind: str, tmp_path: Path
) -> None:
    require(kind)
    room = Workshops(kind, tmp_path)
    try:
        for workshop, worker in room.workers.items():
            assert worker.urls["join"].startswith(f"http://127.0.0.1:{room.port}/{workshop}/j/")
        amiens, lille = room.front["amiens"], room.front["lille"]

        async def main() -> None:
            # One browser: the same cookie jar joins both workshops, one after the other.
            phone = Client(amiens, "participant").join("Awa")
            there = Client(lille, "participant")
            for cookie in phone.http.cookies.jar:
                there.http.cookies.set(cookie.name, cookie.value, path=cookie.path)
            there.join("Awa")
            paths = sorted(c.path for c in there.http.cookies.jar if c.name == "palabre_p")
            assert paths == ["/amiens", "/lille"]  # one identity per workshop, kept apart
            here = await phone.connect()
            away = await there.connect()
            assert (await here.act("post", {"title": "Un verger partagé"}, step="ideas"))["ok"]
            assert (await away.act("post", {"title": "Une rue aux enfants"}, step="ideas"))["ok"]
            # Each facilitator link opens its own workshop's panel, through the same host.
            titles = {"amiens": "Un verger partagé", "lille": "Une rue aux enfants"}
            for workshop, front in room.front.items():
                facilitator = await Client(front, "facilitator").login().connect()
                mine = titles[workshop]
                await facilitator.wait_for(
                    lambda f=facilitator, t=mine: t in f.regions.get("main", "")
                )
                other = titles["lille" if workshop == "amiens" else "amiens"]
                assert other not in facilitator.regions.get("main", "")
                await close_all(facilitator)
            await close_all(here, away)

        run(main())
        assert room.ideas("amiens") == {"Un verger partagé"}
        assert room.ideas("lille") == {"Une rue aux enfants"}
        stray = httpx.get(f"http://127.0.0.1:{room.port}/j/ABCDEF", timeout=10)
        assert stray.status_code == 404  # outside every workshop's path
    finally:
        room.stop()


def test_a_phone_joins_a_workshop_under_its_path_in_chromium(
    browser: object, tmp_path: Path  # noqa: F811
) -> None:
    require("nginx")
    room = Workshops("nginx", tmp_path)
    try:
        page = browser.new_context(**PHONE).new_page()  # type: ignore[attr-defined]
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(room.workers["lille"].urls["join"])
        page.fill("#name", "Nadia")
        page.click("button[type=submit]")
        page.wait_for_url("**/lille/p")
        page.fill("#idea-title", "Des bancs à l'ombre près du marché")
        page.click("#ideation-post button[type=submit]")
        page.locator("[data-region=personal] .card--mine").wait_for(timeout=10_000)
        # Styled (the stylesheet came through the path) and live (the socket too).
        colour = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert colour not in ("rgba(0, 0, 0, 0)", "")
        assert page.evaluate("document.body.dataset.connection") == "connected"
        prefix = f"http://127.0.0.1:{room.port}/lille/"
        assert requests and all(u.startswith(prefix) for u in requests), requests
        screenshot(page, "shared-host-phone")
        for _ in range(50):
            if room.ideas("lille"):
                break
            asyncio.run(asyncio.sleep(0.1))
        assert room.ideas("lille") == {"Des bancs à l'ombre près du marché"}
        assert room.ideas("amiens") == set()
    finally:
        room.stop()
