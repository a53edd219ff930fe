"""Test support: a real `palabre serve` on loopback, and phones/screens/facilitators that
talk to it over HTTP and WebSockets exactly as browsers do."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import websockets
from websockets.exceptions import InvalidStatus

# One TLS context for every test client: httpx builds one per client otherwise, 40 ms of CPU
# each (the servers speak plain HTTP; thousands of clients over the suite added minutes).
TLS = ssl.create_default_context()


def origin_of(url: str) -> str:
    """What a browser sends as Origin: scheme, host and port, never a path."""
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{rest.split('/', 1)[0]}"


URL_LINE = re.compile(r"^(Facilitator|Screen|Join|Jury):\s+(\S+)$", re.M)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A `palabre serve` process; `kill()` is SIGKILL, `start()` resumes on the same db."""

    db: Path
    kit: str = "quick-start"
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[str] | None = None
    urls: dict[str, str] = field(default_factory=dict)
    output: str = ""
    # Lines printed after start-up (access log, warnings), kept by the drain thread.
    later_output: list[str] = field(default_factory=list)
    # Extra environment for the server process (e.g. PALABRE_PING_SECONDS).
    env: dict[str, str] = field(default_factory=dict)
    # Extra command-line options for `palabre serve` (e.g. ["--allowed-host", "x.test"]).
    args: list[str] = field(default_factory=list)

    # A workshop served under a path of a shared host name ("/amiens"): links start with it.
    path: str = ""

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "palabre.engine.cli", "serve", self.kit,
                "--db", str(self.db), "--host", "127.0.0.1", "--port", str(self.port),
                "--public-url", self.base, *self.args]

    def start(self, timeout: float = 30.0) -> Server:
        self.proc = subprocess.Popen(self.command(), stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True,
                                     env=os.environ | {"PYTHONUNBUFFERED": "1"} | self.env)
        deadline = time.monotonic() + timeout
        lines = []
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Uvicorn running" in line or "Application startup complete" in line:
                break
        self.output = "".join(lines)
        if self.proc.poll() is not None:
            raise RuntimeError(f"server exited:\n{self.output}")
        self.urls = {k.lower(): v for k, v in URL_LINE.findall(self.output)}
        _wait_for_port(self.port, deadline)
        # Keep draining stdout so the server never blocks on a full pipe.
        if os.environ.get("PALABRE_TEST_QUIET", "1") == "1":
            asyncio_thread_drain(self.proc, self.later_output)
        return self

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    @property
    def join_code(self) -> str:
        return self.urls["join"].rsplit("/", 1)[-1]


def asyncio_thread_drain(proc: subprocess.Popen[str], sink: list[str] | None = None) -> None:
    import threading

    def drain() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if sink is not None:
                sink.append(line)

    threading.Thread(target=drain, daemon=True).start()


def _wait_for_port(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"port {port} never opened")


class Client:
    """One browser: a cookie jar, a socket, the latest view of each region, acks by id."""

    def __init__(self, server: Server, audience: str) -> None:
        self.server = server
        self.audience = audience
        self.http = httpx.Client(base_url=server.base, follow_redirects=True, timeout=20,
                                 verify=TLS)
        self.ws: Any = None
        self.regions: dict[str, str] = {}
        self.views: list[dict[str, Any]] = []
        self.acks: dict[str, dict[str, Any]] = {}
        self.ack_log: list[dict[str, Any]] = []  # every ack, in arrival order (repeats too)
        self.errors: list[dict[str, Any]] = []
        self.pongs = 0
        self._reader: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    # -- HTTP ------------------------------------------------------------------------
    def login(self) -> Client:
        url = self.server.urls[self.audience]
        response = self.http.get(url)
        assert response.status_code == 200, response.text
        return self

    def join(self, name: str = "") -> Client:
        response = self.http.post(f"/j/{self.server.join_code}", data={"name": name})
        assert response.status_code == 200 and response.url.path.endswith("/p"), response.text
        return self

    def cookie_header(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.http.cookies.jar)

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.http.cookies.jar if c.name == name), None)

    def copy(self, server: Server | None = None) -> Client:
        """Another tab of the same browser (same cookies), possibly on a restarted server."""
        other = Client(server or self.server, self.audience)
        for c in self.http.cookies.jar:
            other.http.cookies.set(c.name, c.value)
        return other

    # -- WebSocket -------------------------------------------------------------------
    async def connect(self, origin: str | None = None) -> Client:
        url = self.server.base.replace("http", "ws", 1) + f"/ws?as={self.audience}"
        self.ws = await websockets.connect(
            url, origin=origin or origin_of(self.server.base),  # type: ignore[arg-type]
            additional_headers={"Cookie": self.cookie_header()}, max_size=2**22,
            open_timeout=20,
        )
        self._reader = asyncio.create_task(self._read())
        await self.wait_for(lambda: "main" in self.regions)
        return self

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                message = json.loads(raw)
                if message["type"] == "view":
                    self.views.append(message)
                    self.regions.update(message["regions"])
                elif message["type"] == "ack":
                    self.acks[message["id"]] = message
                    self.ack_log.append(message)
                elif message["type"] == "error":
                    self.errors.append(message)
                elif message["type"] == "pong":
                    self.pongs += 1
                self._changed.set()
        except websockets.ConnectionClosed:
            pass
        finally:
            self._changed.set()

    async def send(self, action: str, data: dict[str, Any] | None = None,
                   step: str | None = None, action_id: str | None = None) -> str:
        action_id = action_id or uuid.uuid4().hex
        await self.ws.send(json.dumps({"type": "act", "id": action_id, "step": step,
                                       "action": action, "data": data or {}}))
        return action_id

    async def send_raw(self, text: str | bytes) -> None:
        await self.ws.send(text)

    async def act(self, action: str, data: dict[str, Any] | None = None,
                  step: str | None = None, action_id: str | None = None) -> dict[str, Any]:
        action_id = await self.send(action, data, step, action_id)
        await self.wait_for(lambda: action_id in self.acks)
        return self.acks[action_id]

    async def wait_for(self, predicate: Any, timeout: float = 20.0) -> None:
        async def loop() -> None:
            while not predicate():
                self._changed.clear()
                if self.ws is not None and self.ws.close_code is not None and not predicate():
                    raise ConnectionError(f"socket closed ({self.ws.close_code})")
                await self._changed.wait()
        await asyncio.wait_for(loop(), timeout)

    async def closed(self, timeout: float = 20.0) -> int | None:
        """Wait until the server closes the socket and every message before it is read;
        returns the close code."""
        await asyncio.wait_for(self.ws.wait_closed(), timeout)
        if self._reader is not None:
            await asyncio.wait_for(asyncio.shield(self._reader), timeout)
        return self.ws.close_code  # type: ignore[no-any-return]

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)
        self.http.close()


# -- helpers shared by the test modules -------------------------------------------------------
def read_events(db: Path) -> list[dict[str, Any]]:
    """The events table, in seq order, with `data` decoded."""
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(db)) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute("SELECT * FROM events ORDER BY seq").fetchall()
    return [dict(row) | {"data": json.loads(row["data"])} for row in rows]


def events_dump(db: Path) -> list[str]:
    """The events table (schema, then every row in seq order) as text, to compare exactly."""
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(db)) as conn:
        schema = conn.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name = 'events' ORDER BY name"
        ).fetchall()
        rows = conn.execute("SELECT * FROM events ORDER BY seq").fetchall()
    return [repr(tuple(row)) for row in schema + rows]


def pragma(db: Path, name: str) -> list[Any]:
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(db)) as conn:
        return [row[0] for row in conn.execute(f"PRAGMA {name}").fetchall()]


async def handshake_status(server: Server, audience: str, cookie: str = "",
                           origin: str | None = "", path: str | None = None) -> int:
    """HTTP status of a WebSocket handshake: 101 if accepted (then closed), else the refusal.

    `origin=""` sends the server's own origin; `origin=None` sends no Origin header at all.
    """
    url = server.base.replace("http", "ws", 1) + (path or f"/ws?as={audience}")
    headers = {"Cookie": cookie} if cookie else {}
    try:
        ws = await websockets.connect(url, origin=server.base if origin == "" else origin,  # type: ignore[arg-type]
                                      additional_headers=headers, open_timeout=20)
    except InvalidStatus as exc:
        return int(exc.response.status_code)
    await ws.close()
    return 101


async def close_all(*clients: Client) -> None:
    await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)


def attr_values(html: str, attr: str) -> list[str]:
    """Values of an attribute in document order, e.g. attr_values(html, "data-arg-item")."""
    return re.findall(rf'{re.escape(attr)}="([^"]*)"', html)


def bars(html: str) -> dict[str, int]:
    """Dot-voting result bars: item id -> dots shown."""
    return {item: int(n) for item, n in
            re.findall(r'data-key="bar-([^"]+)".*?class="bar__value">(\d+)<', html, re.S)}


def ballot(personal: str) -> dict[str, int]:
    """A participant's own dots per item, from their personal dot-voting region."""
    return {item: int(n) for item, n in
            re.findall(r'data-key="vote-([^"]+)".*?data-mine="(\d+)"', personal, re.S)}


def dots_spent(personal: str) -> int:
    return personal.count("dot--spent")


def cards(html: str) -> dict[str, str]:
    """Idea cards: data-key -> unescaped title, in document order."""
    import html as html_lib

    return {key: html_lib.unescape(title) for key, title in re.findall(
        r'<li class="card[^"]*" data-key="([^"]+)">\s*<p class="card__title" dir="auto">'
        r'(.*?)</p>', html, re.S)}


def run(coro: Any, timeout: float = 120.0) -> Any:
    """Run one test's async body, with a generous bound so a hang fails instead of blocking."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def eventually(client: Client, predicate: Any, what: str, timeout: float = 20.0) -> None:
    """Wait for a view or ack to satisfy `predicate`; fail saying what never happened."""
    try:
        await client.wait_for(predicate, timeout)
    except (TimeoutError, ConnectionError) as exc:
        regions = {k: v[:1500] for k, v in client.regions.items()}
        raise AssertionError(f"{client.audience}: {what} ({exc!r}); latest regions: "
                             f"{regions}") from None


# -- pytest fixtures (import them into a test module to use them) ------------------------------
def _stop_all(servers: list[Server]) -> None:
    for server in servers:
        if server.proc is not None and server.proc.poll() is None:
            server.stop()


def _server_fixtures() -> tuple[Any, Any]:
    import pytest

    @pytest.fixture
    def start_server(tmp_path: Path) -> Any:
        """`start_server(db=None, kit="quick-start", **fields)` -> a started Server, stopped
        (SIGINT, then SIGKILL) at teardown."""
        started: list[Server] = []

        def start(db: Path | None = None, kit: str = "quick-start", **fields: Any) -> Server:
            server = Server(db or tmp_path / "workshop.db", kit=kit, **fields)
            started.append(server)
            return server.start()

        yield start
        _stop_all(started)

    @pytest.fixture(scope="module")
    def module_servers(tmp_path_factory: Any) -> Any:
        """Like start_server, shared by a module: `module_servers(name, kit=...)`."""
        started: list[Server] = []

        def start(name: str = "workshop", kit: str = "quick-start", **fields: Any) -> Server:
            db = tmp_path_factory.mktemp(name) / f"{name}.db"
            server = Server(db, kit=kit, **fields)
            started.append(server)
            return server.start()

        yield start
        _stop_all(started)

    return start_server, module_servers


start_server, module_servers = _server_fixtures()
