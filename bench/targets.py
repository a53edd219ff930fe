"""The servers under test and the coordinator's own clients.

`palabre`: a real `palabre serve` (tests/support.py's Server: a subprocess on loopback, a
fresh database). `baseline`: bench/baseline.py, started the same way. `postgres` and
`edges:N` (bench/distributed.py): the same process on the PostgreSQL store, then that
process as the writer behind N edge workers. Any of them is prepared by
`prepare()` the way a facilitator runs quick-start: the facilitator and the screen log in
with the links the server printed, a probe phone posts ideas, the facilitator moves to the
vote and reveals the results so that the screen shows live bars.

The screen (`Surface`) parses every message in full: it knows what each view includes (the
sum of the bars, the step shown), which the phones never look at.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import websockets

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "tests"))

from distributed import EdgeDeployment, PostgresServer, postgres_pids  # noqa: E402
from wire import http_request  # noqa: E402

from support import Server, free_port  # noqa: E402

BAR = re.compile(r'class="bar__value">(\d+)<')
BAR_ID = re.compile(r'data-key="bar-([^"]+)"')
STEP_TITLE = re.compile(r'class="screen-step"><bdi>(.*?)</bdi>', re.S)
IDEAS = [
    "Des bancs à l’ombre sur la place",
    "Une boîte à livres devant l’école",
    "Un potager partagé derrière la mairie",
    "Des pistes cyclables continues",
    "Un marché le samedi soir",
    "Des fontaines d’eau potable",
]


@dataclass
class BaselineServer(Server):
    """bench/baseline.py, started and stopped like a `palabre serve`."""

    templates: Path = Path("templates.json")
    http_port: int = field(default_factory=free_port)

    def command(self) -> list[str]:
        return [sys.executable, str(BENCH / "baseline.py"), "--port", str(self.port),
                "--http-port", str(self.http_port), "--templates", str(self.templates),
                "--db", str(self.db)]  # fmt: skip


Target = Server | EdgeDeployment


def start(kind: str, folder: Path, templates: Path) -> Target:
    """`palabre`, `baseline`, `postgres`, or `edges:N` (`edges:N:nginx`: phones through the
    documented nginx instead of straight to the edges' ports)."""
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / f"{kind.replace(':', '-')}-{uuid.uuid4().hex[:8]}.db"
    if kind.startswith("edges:"):
        _, edges, *front = kind.split(":")
        return EdgeDeployment(folder, int(edges), front[0] if front else "direct").start()
    if kind == "baseline":
        server: Server = BaselineServer(db, templates=templates)
    elif kind == "postgres":
        server = PostgresServer(db)
    else:
        server = Server(db)
    return server.start(timeout=60)


def stop(server: Target) -> None:
    server.stop()
    if isinstance(server, Server):
        for suffix in ("", "-wal", "-shm", ".lock"):
            Path(f"{server.db}{suffix}").unlink(missing_ok=True)


def target_of(server: Target) -> dict[str, Any]:
    """Where the phones go: the WebSocket port (or ports), and the port serving /j/<code>."""
    if isinstance(server, EdgeDeployment):
        return server.target()
    join = urlsplit(server.urls["join"])
    return {
        "host": "127.0.0.1", "port": server.port, "origin": server.base,
        "join_host": join.hostname, "join_port": join.port, "join_code": server.join_code,
    }  # fmt: skip


def watch_of(server: Target) -> Watch:
    if isinstance(server, EdgeDeployment):
        return Watch(server.procs(), server.counters)
    assert server.proc is not None
    procs: dict[str, tuple[int, ...]] = {"server": (server.proc.pid,)}
    if isinstance(server, PostgresServer):
        procs["postgres"] = postgres_pids()
    return Watch(procs)


# -- /proc -----------------------------------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) so far. Linux's CPU clock of
    another process (clock_getcpuclockid's id: ~pid << 3 | CPUCLOCK_SCHED) counts in ns;
    /proc/<pid>/stat utime+stime, the fallback, in 10 ms ticks (too coarse for a 20 ms
    step change)."""
    try:
        return time.clock_gettime(((~pid) << 3) | 2)
    except OSError:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
    return int(match.group(1)) if match else 0


@dataclass
class Watch:
    """The processes a run reports on, by name, and counters read at the same instants (the
    broker's traffic). `server` is the process that decides: alone, or the writer behind edge
    workers. A name may stand for several processes (PostgreSQL's), whose figures add up."""

    procs: dict[str, tuple[int, ...]]
    counters: Callable[[], dict[str, float]] | None = None
    # A process that ended (a PostgreSQL backend of another client) keeps its last reading.
    _last: dict[int, float] = field(default_factory=dict)

    @property
    def server(self) -> int:
        return self.procs["server"][0]

    def read(self) -> dict[str, float]:
        """Cumulative: `<name>_cpu` in CPU seconds, then each counter."""
        out = {f"{name}_cpu": sum(self._cpu(p) for p in pids) for name, pids in self.procs.items()}
        return out | (self.counters() if self.counters else {})

    def _cpu(self, pid: int) -> float:
        try:
            self._last[pid] = cpu_seconds(pid)
        except OSError:
            pass
        return self._last.get(pid, 0.0)

    def rss(self) -> dict[str, int]:
        """KiB by name (PostgreSQL's shared buffers count in each of its processes: its
        figure is not a memory cost)."""
        out = {}
        for name, pids in self.procs.items():
            try:
                out[name] = sum(rss_kib(p) for p in pids)
            except OSError:
                out[name] = 0
        return out


def change(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {key: after[key] - before.get(key, 0.0) for key in after}


def over_time(delta: dict[str, float], seconds: float) -> dict[str, float]:
    """A change over a window: CPU as % of a core (`<name>_cpu_pct`), counters per second."""
    return _shared_by(delta, seconds, ("_pct", 100), "_per_s")


def each(delta: dict[str, float], count: float, what: str) -> dict[str, float]:
    """A change shared by `count` things (phones, changes): CPU in ms, counters as counted."""
    return _shared_by(delta, count, (f"_ms_per_{what}", 1000), f"_per_{what}")


def _shared_by(
    delta: dict[str, float], count: float, cpu: tuple[str, float], counter: str
) -> dict[str, float]:
    """DELTA divided by COUNT: CPU keys (`*_cpu`) take CPU's suffix and scale, the others
    the COUNTER suffix."""
    if count <= 0:
        return {}
    suffix, scale = cpu
    return {
        (k + suffix if k.endswith("_cpu") else k + counter): (
            v * scale if k.endswith("_cpu") else v
        ) / count
        for k, v in delta.items()
    }  # fmt: skip


# -- the coordinator's clients --------------------------------------------------------------
class Surface:
    """One full client (screen, facilitator or probe phone) over the `websockets` library."""

    def __init__(self, audience: str) -> None:
        self.audience = audience
        self.ws: Any = None
        self.streams: dict[str, dict[str, str]] = {"shared": {}, "personal": {}}
        self.raw: dict[str, str] = {}  # newest message text per stream, for its size
        self.acks: dict[str, dict[str, Any]] = {}
        # (receive time, sum of the bars or None, step title) for each shared view
        self.log: list[tuple[float, int | None, str]] = []
        self.changed = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None

    async def open(self, target: dict[str, Any], cookie: str) -> Surface:
        url = f"ws://{target['host']}:{target['port']}/ws?as={self.audience}"
        self.ws = await websockets.connect(
            url, origin=target["origin"], additional_headers={"Cookie": cookie},
            max_size=2**22, compression=None, open_timeout=60,
        )  # fmt: skip
        self._reader = asyncio.create_task(self._read())
        await self.until(lambda: "main" in self.streams["shared"], 60)
        return self

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                now = time.monotonic()
                message = json.loads(raw)
                if message["type"] == "view":
                    stream = message["stream"]
                    self.streams[stream].update(message["regions"])
                    self.raw[stream] = raw
                    if stream == "shared":
                        self.log.append((now, self.total(), self.step_title()))
                elif message["type"] == "ack":
                    self.acks[message["id"]] = message
                self.changed.set()
        except websockets.ConnectionClosed:
            pass

    def total(self) -> int | None:
        main = self.streams["shared"].get("main", "")
        values = BAR.findall(main)
        return sum(map(int, values)) if values else None

    def items(self) -> list[str]:
        return BAR_ID.findall(self.streams["shared"].get("main", ""))

    def step_title(self) -> str:
        match = STEP_TITLE.search(self.streams["shared"].get("chrome", ""))
        return match.group(1) if match else ""

    async def until(self, predicate: Any, timeout: float = 30.0) -> None:
        async def wait() -> None:
            while not predicate():
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(wait(), timeout)

    async def act(
        self,
        action: str,
        data: dict[str, str] | None = None,
        step: str | None = None,
        timeout: float = 60.0,
    ) -> dict[str, Any]:
        action_id = uuid.uuid4().hex
        await self.ws.send(json.dumps(
            {"type": "act", "id": action_id, "step": step, "action": action, "data": data or {}}
        ))  # fmt: skip
        await self.until(lambda: action_id in self.acks, timeout)
        ack = self.acks[action_id]
        if not ack["ok"]:
            raise RuntimeError(f"{self.audience} {action} refused: {ack}")
        return ack

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)


async def login(url: str) -> str:
    """Open a secret link (facilitator, screen) and keep the cookie it sets."""
    parts = urlsplit(url)
    status, cookies = await http_request(parts.hostname or "", parts.port or 80, "GET", parts.path)
    if not cookies:
        raise RuntimeError(f"{parts.path[:3]}…: HTTP {status}, no cookie")
    name, value = next(iter(cookies.items()))
    return f"{name}={value}"


async def join(target: dict[str, Any], name: str) -> str:
    status, cookies = await http_request(
        target["join_host"], target["join_port"], "POST", f"/j/{target['join_code']}",
        f"name={name}".encode(),
    )  # fmt: skip
    if "palabre_p" not in cookies:
        raise RuntimeError(f"join refused: HTTP {status}")
    return "palabre_p=" + cookies["palabre_p"]


@dataclass
class Room:
    facilitator: Surface
    screen: Surface
    items: list[str]
    templates: dict[str, Any]

    async def close(self) -> None:
        await self.facilitator.close()
        await self.screen.close()


def _snapshot(screen: Surface, probe: Surface, facilitator: Surface) -> dict[str, Any]:
    return {
        "screen": dict(screen.streams["shared"]),
        "participant": dict(probe.streams["shared"]),
        "personal": dict(probe.streams["personal"]),
        "facilitator": dict(facilitator.streams["shared"]),
        "bytes": {
            "screen": len(screen.raw["shared"].encode()),
            "participant": len(probe.raw["shared"].encode()),
            "personal": len(probe.raw.get("personal", "").encode()),
            "facilitator": len(facilitator.raw["shared"].encode()),
        },
    }


async def prepare(server: Target) -> Room:
    """Quick-start up to a revealed vote on six ideas; the views of both steps as sent."""
    target = target_of(server)
    facilitator = await Surface("facilitator").open(target, await login(server.urls["facilitator"]))
    screen = await Surface("screen").open(target, await login(server.urls["screen"]))
    probe = await Surface("participant").open(target, await join(target, "Sonde"))
    for title in IDEAS:
        await probe.act("post", {"title": title, "description": ""}, step="ideas")
    await asyncio.sleep(0.3)  # the views of the last tick
    ideas = _snapshot(screen, probe, facilitator)
    await facilitator.act("next")
    await facilitator.act("reveal", step="vote")
    await screen.until(lambda: len(screen.items()) == len(IDEAS))
    await probe.until(lambda: "data-arg-item" in probe.streams["personal"].get("personal", ""))
    await asyncio.sleep(0.3)
    vote = _snapshot(screen, probe, facilitator)
    items = screen.items()
    await probe.close()
    templates = {"items": items, "steps": {"ideas": ideas, "vote": vote}}
    return Room(facilitator, screen, items, templates)
