"""Palabre on PostgreSQL, alone or as the writer behind edge workers (issue 9), for the bench.

`postgres`: `palabre serve --store postgresql://… --workshop bench-<hex>`, one process: the
reference the edge figures compare with (same store, so only the edges differ).
`edges:N`: tests/cluster.py's Cluster (writer with `--broker`, N `palabre edge`, nginx
running docs/deployment.md's tested block), plus a subscriber counting what Redis carries
(bench/redis_tap.py). Phones go straight to the edges' ports (`direct`), or through nginx.

The store and the broker are the URLs tests/cluster.py reads, PALABRE_TEST_POSTGRES and
PALABRE_TEST_REDIS (bench/edges.py sets them from its options). Each run has a fresh workshop
name, whose rows are deleted when it stops.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redis_tap import RedisTap

from support import Server


def store_url() -> str:
    return os.environ["PALABRE_TEST_POSTGRES"]


def broker_url() -> str:
    return os.environ["PALABRE_TEST_REDIS"]


def fresh_workshop() -> str:
    return "bench-" + secrets.token_hex(6)


def forget_workshop(workshop: str) -> None:
    """Its events and meta: a bench leaves nothing in the shared database."""
    import psycopg

    with psycopg.connect(store_url()) as conn:
        conn.execute("DELETE FROM palabre_events WHERE workshop = %s", (workshop,))
        conn.execute("DELETE FROM palabre_meta WHERE workshop = %s", (workshop,))


def postgres_pids() -> tuple[int, ...]:
    """Every PostgreSQL process of the machine now: the writer's backend, and the WAL writer
    and checkpointer its commits wake. Other clients' backends are in it too (their CPU is
    the shared machine's noise)."""
    return tuple(pid for pid, name in _processes() if name == "postgres")


def _processes() -> list[tuple[int, str]]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                found.append((int(entry.name), (entry / "comm").read_text().strip()))
            except OSError:
                continue
    return found


def children(pid: int) -> tuple[int, ...]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return ()
    return tuple(int(c) for c in text.split())


@dataclass
class PostgresServer(Server):
    """The single process, on the PostgreSQL store (its --db is not used)."""

    workshop: str = field(default_factory=fresh_workshop)

    def command(self) -> list[str]:
        return [*super().command(), "--store", store_url(), "--workshop", self.workshop]

    def stop(self) -> None:
        super().stop()
        forget_workshop(self.workshop)


class EdgeDeployment:
    """A writer, `edges` edge workers and nginx, on loopback, for one workshop."""

    def __init__(self, folder: Path, edges: int, front: str = "direct") -> None:
        if front not in ("direct", "nginx"):
            raise ValueError(f"front: direct or nginx, not {front!r}")
        # Imported here: tests/cluster.py reads the store and broker URLs when imported, and
        # bench/edges.py sets them from its options first.
        from cluster import Cluster

        self.cluster = Cluster(folder, edges=edges, workshop=fresh_workshop())
        self.front = front
        self.tap: RedisTap | None = None

    def start(self) -> EdgeDeployment:
        try:
            self.cluster.start()
            self.tap = RedisTap(broker_url(), self.cluster.workshop)
        except BaseException:
            self.stop()
            raise
        return self

    @property
    def writer(self) -> Server:
        assert self.cluster.writer is not None
        return self.cluster.writer

    @property
    def urls(self) -> dict[str, str]:
        return self.writer.urls

    def target(self) -> dict[str, Any]:
        """Phones: round-robin over the edges' ports (an L4 balancer), joins to the writer;
        or everything through nginx. The Origin is the public URL, as a browser sends it."""
        if self.front == "nginx":
            ports, join_port = [self.cluster.port], self.cluster.port
        else:
            ports, join_port = [e.port for e in self.cluster.edge_workers], self.writer.port
        return {
            "host": "127.0.0.1", "port": ports[0], "ports": ports, "origin": self.cluster.public,
            "join_host": "127.0.0.1", "join_port": join_port, "join_code": self.writer.join_code,
        }  # fmt: skip

    def procs(self) -> dict[str, tuple[int, ...]]:
        assert self.writer.proc is not None and self.tap is not None
        procs: dict[str, tuple[int, ...]] = {"server": (self.writer.proc.pid,)}
        for number, edge in enumerate(self.cluster.edge_workers, 1):
            assert edge.proc is not None
            procs[f"edge{number}"] = (edge.proc.pid,)
        procs["redis"] = (self.tap.redis_pid,)
        procs["postgres"] = postgres_pids()
        if self.cluster.proxy is not None:
            nginx = self.cluster.proxy.pid
            procs["nginx"] = (nginx, *children(nginx))
        return procs

    def counters(self) -> dict[str, float]:
        return self.tap.read() if self.tap is not None else {}

    def stop(self) -> None:
        if self.tap is not None:
            self.tap.close()
        self.cluster.stop()
        forget_workshop(self.cluster.workshop)
