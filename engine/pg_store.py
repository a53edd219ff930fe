"""The event log in PostgreSQL, for several `palabre serve` workers sharing one database
(`--store postgresql://…`). Many workshops live side by side, keyed by name; each has one
writer at a time.

Why PostgreSQL and an advisory lock: a workshop's single writer must be exclusive across
machines, and must stop being the writer the moment it dies. A session-level advisory lock
does both with no extra service: PostgreSQL grants it to one session, and releases it when
that session's connection ends, which a killed process's kernel does at once (and TCP
keepalives, set below, do within seconds when a machine vanishes). Every write goes through
the session that holds the lock, so a worker that lost it cannot write: its connection is
gone. A standby worker started with `--wait-for-lock` polls for the lock and takes the
workshop over, replaying its log, as soon as it is free.

Acknowledgements wait for the commit (synchronous_commit stays on): an acknowledged action
is on the server's disk, whichever worker dies.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from typing import Any

import psycopg

from .events import Log, StoredEvent
from .store import StoreError

# Detect a vanished worker (its machine off the network) in about 5 + 2 × 3 = 11 s.
KEEPALIVES: dict[str, Any] = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2,
              "keepalives_count": 3, "connect_timeout": 10}  # fmt: skip
POLL_SECONDS = 0.25
SCHEMA = """
CREATE TABLE IF NOT EXISTS palabre_meta (
  workshop text NOT NULL, key text NOT NULL, value text NOT NULL,
  PRIMARY KEY (workshop, key));
CREATE TABLE IF NOT EXISTS palabre_events (
  workshop text NOT NULL, seq bigint NOT NULL, ts double precision NOT NULL,
  step text NOT NULL, kind text NOT NULL, actor text NOT NULL, action_id text NOT NULL,
  data text NOT NULL,
  PRIMARY KEY (workshop, seq));
"""
INSERT_EVENT = (
    "INSERT INTO palabre_events (workshop, seq, ts, step, kind, actor, action_id, data) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
)
SELECT_EVENTS = (
    "SELECT seq, ts, step, kind, actor, action_id, data FROM palabre_events "
    "WHERE workshop = %s ORDER BY seq"
)


def lock_key(workshop: str) -> int:
    """The advisory lock's 64-bit key for a workshop name (stable across processes)."""
    digest = hashlib.sha256(f"palabre:{workshop}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class PostgresStore:
    def __init__(self, url: str, workshop: str, wait: float = 0.0) -> None:
        if not workshop or len(workshop) > 100:
            raise StoreError("--workshop: a name of 1 to 100 characters is needed")
        self.url, self.workshop = url, workshop
        self.conn = _connect(url)
        try:
            self._take_lock(wait)
            with self.conn.transaction():
                self.conn.execute(SCHEMA)
        except BaseException:
            self.conn.close()
            raise

    def _take_lock(self, wait: float) -> None:
        deadline = time.monotonic() + wait
        key = lock_key(self.workshop)
        while not self.conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0]:  # type: ignore[index]
            if time.monotonic() >= deadline:
                raise StoreError(
                    f"Another Palabre worker owns the workshop {self.workshop!r} in this "
                    "database. Stop it first, or start this one with --wait-for-lock to take "
                    "the workshop over when it stops."
                )
            time.sleep(POLL_SECONDS)

    def get_meta(self) -> dict[str, str]:
        return _meta(self.conn, self.workshop)

    def set_meta(self, values: dict[str, str]) -> None:
        with self.conn.transaction(), self.conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO palabre_meta (workshop, key, value) VALUES (%s, %s, %s) "
                "ON CONFLICT (workshop, key) DO UPDATE SET value = EXCLUDED.value",
                [(self.workshop, key, value) for key, value in values.items()],
            )

    def append(self, events: list[StoredEvent]) -> None:
        rows = [_row(self.workshop, e) for e in events]
        with self.conn.transaction(), self.conn.cursor() as cursor:
            cursor.executemany(INSERT_EVENT, rows)

    def replay(self) -> Iterator[StoredEvent]:
        return iter(_events(self.conn, self.workshop))

    def read_log(self) -> Log:
        return _read(self.url, self.workshop)

    def close(self) -> None:
        self.conn.close()  # ends the session: PostgreSQL releases the lock


def read_postgres_log(url: str, workshop: str) -> Log:
    """A workshop's log read from PostgreSQL without taking it (exports, reports)."""
    log = _read(url, workshop)
    if "kit" not in log.meta:
        raise StoreError(f"no workshop named {workshop!r} in this database")
    return log


def read_meta(url: str, workshop: str) -> dict[str, str]:
    with _connect(url) as conn:
        try:
            return _meta(conn, workshop)
        except psycopg.errors.UndefinedTable:
            return {}  # no worker has created the tables yet


def _read(url: str, workshop: str) -> Log:
    """Meta and events on a connection of its own (callable from another thread)."""
    with _connect(url) as conn:
        return Log(_meta(conn, workshop), _events(conn, workshop))


def _meta(conn: psycopg.Connection[Any], workshop: str) -> dict[str, str]:
    rows = conn.execute("SELECT key, value FROM palabre_meta WHERE workshop = %s", (workshop,))
    return {key: value for key, value in rows}


def _events(conn: psycopg.Connection[Any], workshop: str) -> list[StoredEvent]:
    return [_event(row) for row in conn.execute(SELECT_EVENTS, (workshop,))]


def _connect(url: str) -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(url, autocommit=True, **KEEPALIVES)
    except psycopg.OperationalError as exc:
        raise StoreError(f"cannot reach PostgreSQL: {str(exc).strip()}") from None


def _row(workshop: str, e: StoredEvent) -> tuple[Any, ...]:
    data = json.dumps(e.data, ensure_ascii=False)
    return (workshop, e.seq, e.ts, e.step, e.kind, e.actor, e.action_id, data)


def _event(row: Any) -> StoredEvent:
    seq, ts, step, kind, actor, action_id, data = row
    return StoredEvent(seq, ts, step, kind, actor, action_id, json.loads(data))
