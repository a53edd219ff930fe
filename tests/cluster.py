"""The distributed setup of docs/deployment.md section 4, on loopback, for tests and benches:
a writer (and optionally its standby) on PostgreSQL with Redis as the broker, edge workers,
and nginx in front running the documented configuration (`/ws` to the edges, the rest to
the writer). Real processes, real servers; only ports and certificates are swapped.

Needs PALABRE_TEST_POSTGRES and PALABRE_TEST_REDIS (`.ci/run` starts both and sets them)."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from palabre.engine.events import Log
from palabre.engine.pg_store import read_postgres_log
from support import Server, _wait_for_port, free_port

POSTGRES = os.environ.get("PALABRE_TEST_POSTGRES", "")
REDIS = os.environ.get("PALABRE_TEST_REDIS", "")
DOC = Path(__file__).resolve().parent.parent / "docs" / "deployment.md"


def require_services(caddy: bool = False) -> str:
    """The nginx binary; skips (or fails, in CI) without PostgreSQL, Redis or nginx (or
    Caddy, when asked)."""
    nginx = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/bin/nginx") if os.path.exists(p)), None
    )
    needed = [("PALABRE_TEST_POSTGRES", POSTGRES), ("PALABRE_TEST_REDIS", REDIS),
              ("nginx", nginx)] + ([("caddy", shutil.which("caddy"))] if caddy else [])  # fmt: skip
    missing = [name for name, there in needed if not there]
    if missing:
        if os.environ.get("PALABRE_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{', '.join(missing)} required here (.ci/run provides them)")
        pytest.skip(f"no {', '.join(missing)}")
    assert nginx
    return nginx


def documented_edges_block(kind: str = "nginx") -> str:
    pattern = rf"<!-- tested: {kind} edges -->\n```{kind}\n(.*?)```"
    found = re.search(pattern, DOC.read_text("utf-8"), re.S)
    assert found, f"docs/deployment.md has no tested {kind} edges block"
    return found[1]


def nginx_command(nginx: str, folder: Path, block: str, port: int) -> list[str]:
    """nginx running a documented server block on loopback PORT, in plain HTTP."""
    block = block.replace("listen 443 ssl;", f"listen 127.0.0.1:{port};")
    block = "\n".join(line for line in block.splitlines() if "ssl_certificate" not in line)
    temp = " ".join(f"{name}_temp_path {folder / name};"
                    for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))  # fmt: skip
    (folder / "nginx.conf").write_text(
        f"daemon off; worker_processes 1; pid {folder / 'nginx.pid'};\n"
        f"error_log {folder / 'error.log'};\n"
        "events { worker_connections 8192; }\n"
        f"http {{ access_log off; {temp}\n{block}\n}}\n",
        encoding="utf-8",
    )
    return [nginx, "-p", str(folder), "-c", str(folder / "nginx.conf")]


@dataclass
class Edge(Server):
    """A `palabre edge` process (Server's start, stop and kill)."""

    workshop: str = ""
    public_url: str = ""
    redis: str = REDIS

    def command(self) -> list[str]:
        return [sys.executable, "-m", "palabre.engine.cli", "edge", "--store", POSTGRES,
                "--workshop", self.workshop, "--broker", self.redis, "--host", "127.0.0.1",
                "--port", str(self.port), "--public-url", self.public_url]  # fmt: skip


@dataclass
class Cluster:
    """Start with `start()`; `front` is what phones see (the proxy), with the writer's links."""

    folder: Path
    kit: str = "quick-start"
    edges: int = 2
    standby: bool = False
    env: dict[str, str] = field(default_factory=dict)
    redis: str = REDIS
    proxy_kind: str = "nginx"  # or "caddy": docs/deployment.md has both
    workshop: str = field(default_factory=lambda: "test-" + secrets.token_hex(6))
    port: int = field(default_factory=free_port)
    writer: Server | None = None
    spare: Server | None = None
    edge_workers: list[Edge] = field(default_factory=list)
    proxy: subprocess.Popen[str] | None = None

    @property
    def public(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _writer(self, *extra: str) -> Server:
        args = ["--store", POSTGRES, "--workshop", self.workshop, "--broker", self.redis,
                "--public-url", self.public, *extra]  # fmt: skip
        return Server(self.folder / "unused.db", kit=self.kit, args=args, env=self.env)

    def start(self) -> Cluster:
        nginx = require_services(caddy=self.proxy_kind == "caddy")
        self.writer = self._writer().start()
        if self.standby:
            self.spare = self._writer("--wait-for-lock", "300")
            threading.Thread(target=lambda: self.spare.start(timeout=320),  # type: ignore[union-attr]
                             daemon=True).start()  # fmt: skip
        self.edge_workers = [
            Edge(self.folder / "unused.db", workshop=self.workshop, public_url=self.public,
                 env=self.env, redis=self.redis)
            for _ in range(self.edges)
        ]  # fmt: skip
        with ThreadPoolExecutor() as pool:  # side by side: each takes a second to start
            list(pool.map(lambda edge: edge.start(), self.edge_workers))
        self._start_proxy(nginx)
        self.front = Server(self.folder / "unused.db", port=self.port)
        self.front.urls = self.writer.urls
        return self

    def _start_proxy(self, nginx: str) -> None:
        assert self.writer is not None
        spare_port = self.spare.port if self.spare else free_port()
        block = documented_edges_block(self.proxy_kind)
        block = block.replace("127.0.0.1:8001", f"127.0.0.1:{self.writer.port}")
        block = block.replace("127.0.0.1:8002", f"127.0.0.1:{spare_port}")
        folder = self.folder / self.proxy_kind
        folder.mkdir(exist_ok=True)
        if self.proxy_kind == "caddy":
            edges = " ".join(f"127.0.0.1:{e.port}" for e in self.edge_workers)
            block = block.replace("127.0.0.1:8101 127.0.0.1:8102", edges)
            block = block.replace("national.ateliers.example.org", self.public)
            (folder / "Caddyfile").write_text("{\n\tadmin off\n}\n\n" + block, "utf-8")
            caddy = shutil.which("caddy") or "/usr/bin/caddy"
            command = [caddy, "run", "--config", str(folder / "Caddyfile"), "--adapter",
                       "caddyfile"]  # fmt: skip
        else:
            edge_lines = [f"    server 127.0.0.1:{e.port} max_fails=1 fail_timeout=2s;"
                          for e in self.edge_workers]  # fmt: skip
            block = re.sub(r"(upstream palabre_national_edges \{\n)(.*?)(\n\})",
                           lambda m: m[1] + "\n".join(edge_lines) + m[3], block, flags=re.S)
            command = nginx_command(nginx, folder, block, self.port)
        self.proxy = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, text=True, cwd=folder)  # fmt: skip
        _wait_for_port(self.port, time.monotonic() + 20)

    def log(self) -> Log:
        return read_postgres_log(POSTGRES, self.workshop)

    def stop(self) -> None:
        if self.proxy is not None:
            self.proxy.send_signal(signal.SIGTERM)
            try:
                self.proxy.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proxy.kill()
        for worker in [*self.edge_workers, self.writer, self.spare]:
            if worker is not None:
                worker.stop()


@dataclass
class Redis:
    """A Redis of a test's own, to kill and start again (Debian's redis-server)."""

    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> Redis:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        command = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                   "--appendonly", "no"]  # fmt: skip
        quiet = subprocess.DEVNULL
        self.proc = subprocess.Popen(command, stdout=quiet, stderr=quiet)
        _wait_for_port(self.port, time.monotonic() + 20)
        return self

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.kill()
