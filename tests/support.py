"""Test support: a real `palabre serve` on loopback, and phones/screens/facilitators that
talk to it over HTTP and WebSockets exactly as browsers do."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import websockets

URL_LINE = re.compile(r"^(Facilitator|Screen|Join):\s+(\S+)$", re.M)


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

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "palabre.engine.cli", "serve", self.kit,
                "--db", str(self.db), "--host", "127.0.0.1", "--port", str(self.port),
                "--public-url", self.base]

    def start(self, timeout: float = 30.0) -> Server:
        self.proc = subprocess.Popen(self.command(), stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True,
                                     env=os.environ | {"PYTHONUNBUFFERED": "1"})
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
            asyncio_thread_drain(self.proc)
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


def asyncio_thread_drain(proc: subprocess.Popen[str]) -> None:
    import threading

    def drain() -> None:
        assert proc.stdout is not None
        for _ in proc.stdout:
            pass

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
        self.http = httpx.Client(base_url=server.base, follow_redirects=True, timeout=20)
        self.ws: Any = None
        self.regions: dict[str, str] = {}
        self.views: list[dict[str, Any]] = []
        self.acks: dict[str, dict[str, Any]] = {}
        self.errors: list[dict[str, Any]] = []
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
        assert response.status_code == 200 and response.url.path == "/p", response.text
        return self

    def cookie_header(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.http.cookies.jar)

    # -- WebSocket -------------------------------------------------------------------
    async def connect(self, origin: str | None = None) -> Client:
        url = self.server.base.replace("http", "ws", 1) + f"/ws?as={self.audience}"
        self.ws = await websockets.connect(
            url, origin=origin or self.server.base,  # type: ignore[arg-type]
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
                elif message["type"] == "error":
                    self.errors.append(message)
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

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)
        self.http.close()
