"""docs/deployment.md's proxy configurations, run as written with real nginx and Caddy in
front of a workshop's owner and its standby, both on PostgreSQL (issue 9): a phone joins and
posts through the proxy, the owner is killed, and the phone, reconnecting through the same
proxy, reaches the standby, finds what it posted and goes on.

Only what a test cannot have is swapped: the ports, the host name (the proxy listens on
loopback), the certificate lines (plain HTTP here)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from cluster import nginx_command
from test_postgres_store import URL, fresh_name

from palabre.engine.pg_store import read_postgres_log
from palabre.engine.plugins import collect_activities, get_plugin_manager
from palabre.engine.record import build_record
from support import Client, Server, _wait_for_port, close_all, free_port, run

DOC = Path(__file__).resolve().parent.parent / "docs" / "deployment.md"
ACTIVITIES = collect_activities(get_plugin_manager())
HOST = "amiens.ateliers.example.org"


def documented(kind: str) -> str:
    pattern = rf"<!-- tested: {kind} -->\n```{kind}\n(.*?)```"
    found = re.search(pattern, DOC.read_text("utf-8"), re.S)
    assert found, f"docs/deployment.md has no tested {kind} block"
    return found[1]


def require(binary: str) -> str:
    path = shutil.which(binary) or next(
        (p for p in (f"/usr/sbin/{binary}", f"/usr/bin/{binary}") if os.path.exists(p)), None
    )
    if path and URL:
        return path
    missing = binary if not path else "PALABRE_TEST_POSTGRES"
    if os.environ.get("PALABRE_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{missing} is required here (.ci/run installs it)")
    pytest.skip(f"{missing} is not available")


def nginx_config(folder: Path, port: int, owner: int, standby: int) -> list[str]:
    block = documented("nginx").replace("127.0.0.1:8001", f"127.0.0.1:{owner}")
    block = block.replace("127.0.0.1:8002", f"127.0.0.1:{standby}")
    return nginx_command(require("nginx"), folder, block, port)


def caddy_config(folder: Path, port: int, owner: int, standby: int) -> list[str]:
    block = documented("caddy").replace(HOST, f"http://127.0.0.1:{port}")
    block = block.replace("127.0.0.1:8001", f"127.0.0.1:{owner}")
    block = block.replace("127.0.0.1:8002", f"127.0.0.1:{standby}")
    (folder / "Caddyfile").write_text("{\n\tadmin off\n}\n\n" + block, encoding="utf-8")
    caddyfile = str(folder / "Caddyfile")
    return [require("caddy"), "run", "--config", caddyfile, "--adapter", "caddyfile"]


PROXIES = {"nginx": nginx_config, "caddy": caddy_config}


@pytest.mark.parametrize("proxy", sorted(PROXIES))
def test_phones_reach_the_standby_through_the_proxy_when_the_owner_dies(
    proxy: str, tmp_path: Path
) -> None:
    port, owner_port, standby_port = free_port(), free_port(), free_port()
    command = PROXIES[proxy](tmp_path, port, owner_port, standby_port)  # skips without it
    public = f"http://127.0.0.1:{port}"
    name = fresh_name()

    def worker(worker_port: int, *extra: str) -> Server:
        return Server(tmp_path / "unused.db", port=worker_port, args=[
            "--store", URL, "--workshop", name, "--public-url", public, *extra])  # fmt: skip

    owner = worker(owner_port).start()
    standby = worker(standby_port, "--wait-for-lock", "120")
    waiting = threading.Thread(target=lambda: standby.start(timeout=150), daemon=True)
    waiting.start()
    front = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True, cwd=tmp_path)  # fmt: skip
    try:
        _wait_for_port(port, time.monotonic() + 20)
        via = Server(tmp_path / "unused.db", port=port)  # the proxy, as phones see it
        via.urls = owner.urls
        phone = Client(via, "participant").join("Awa")
        posted = run(_post(phone, "Un composteur collectif"))
        assert posted
        killed = time.monotonic()
        owner.kill()
        again = run(_post_when_back(phone, via, "Des bancs à l’ombre"))
        took = time.monotonic() - killed
        assert again and took < 30, f"{took:.1f} s before the phone was served again"
        record = build_record(read_postgres_log(URL, name), ACTIVITIES)
        ideas = {i["title"] for i in record["steps"][0]["results"]["outputs"]}
        assert ideas == {"Un composteur collectif", "Des bancs à l’ombre"}
    finally:
        front.send_signal(signal.SIGTERM)
        try:
            front.wait(timeout=10)
        except subprocess.TimeoutExpired:
            front.kill()
        owner.stop()
        standby.stop()


async def _post(phone: Client, title: str) -> bool:
    live = await phone.connect()
    try:
        return bool((await live.act("post", {"title": title}, step="ideas"))["ok"])
    finally:
        await live.close()


async def _post_when_back(phone: Client, via: Server, title: str) -> bool:
    """What palabre.js does when its socket drops: try again every half second."""
    import asyncio

    deadline = asyncio.get_running_loop().time() + 60
    last: Any = None
    while asyncio.get_running_loop().time() < deadline:
        try:
            live = await phone.copy(via).connect()
        except Exception as exc:  # refused or 502 while the standby starts
            last = exc
            await asyncio.sleep(0.5)
            continue
        try:
            return bool((await live.act("post", {"title": title}, step="ideas"))["ok"])
        finally:
            await close_all(live)
    raise AssertionError(f"the phone never got back: {last!r}")
