"""The event log. `Store` is what the engine needs of it; `EventStore` keeps it in a SQLite
file (the default: one writer, WAL, synchronous=FULL, group commit), `PostgresStore`
(engine/pg_store.py) in PostgreSQL for several workers (`--store postgresql://…`)."""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import sqlite_utils

from .events import Log, StoredEvent
from .sql_views import create_views

SCHEMA_VERSION = 1


class StoreError(Exception):
    """The database cannot be used (locked by another server, unsafe settings)."""


class Store(Protocol):
    """A workshop's event log, held by one writer at a time (the process that opened it)."""

    def get_meta(self) -> dict[str, str]: ...
    def set_meta(self, values: dict[str, str]) -> None: ...
    def append(self, events: list[StoredEvent]) -> None:
        """One batch, in one transaction; returns once it is durable."""

    def replay(self) -> Iterator[StoredEvent]: ...
    def read_log(self) -> Log:
        """Meta and events read on a connection of its own: callable from another thread
        (reports, exports) while the writer goes on."""

    def close(self) -> None: ...


def is_database_url(target: str | Path) -> bool:
    """A PostgreSQL database (`postgresql://…`) rather than a SQLite file."""
    return str(target).startswith(("postgresql://", "postgres://"))


def shown_store(target: str | Path) -> str:
    """A store (or broker) as printed: a URL without its password."""
    text = str(target)
    if "://" not in text:
        return text
    parts = urlsplit(text)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":…@")
        return parts._replace(netloc=netloc).geturl()
    return text


def open_store(target: str | Path, workshop: str = "default", wait: float = 0.0) -> Store:
    """A SQLite file's store, or a PostgreSQL database's (`postgresql://…`) for WORKSHOP,
    waiting up to WAIT seconds for another worker to release it."""
    if is_database_url(target):
        from .pg_store import PostgresStore

        return PostgresStore(str(target), workshop, wait)
    return EventStore(Path(target))


def read_meta(target: str | Path, workshop: str = "default") -> dict[str, str]:
    """A workshop's meta (kit, keys) without taking the workshop: what an edge worker reads.
    Empty when the workshop does not exist yet."""
    if is_database_url(target):
        from .pg_store import read_meta as read_postgres_meta

        return read_postgres_meta(str(target), workshop)
    path = Path(target)
    if not path.is_file():
        return {}
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return dict(conn.execute("SELECT key, value FROM meta").fetchall())
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: not a Palabre workshop file ({exc})") from exc
    finally:
        conn.close()


class EventStore:
    """Appends events in batches and replays them. Only one process may hold it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock_fd = _take_lock(path)
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db = sqlite_utils.Database(conn)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self._check_durability()
        self._create_tables()

    def _check_durability(self) -> None:
        mode = self.db.execute("PRAGMA journal_mode").fetchone()[0]
        sync = self.db.execute("PRAGMA synchronous").fetchone()[0]
        if mode != "wal" or sync != 2:
            raise StoreError(
                f"{self.path}: SQLite refused WAL with synchronous=FULL "
                f"(journal_mode={mode}, synchronous={sync}); votes could be lost on power loss"
            )

    def _table(self, name: str) -> sqlite_utils.db.Table:
        return self.db.table(name)

    def _create_tables(self) -> None:
        with self.db.conn:
            self._table("meta").create({"key": str, "value": str}, pk="key", if_not_exists=True)
            self._table("events").create(
                {
                    "seq": int,
                    "ts": float,
                    "step": str,
                    "kind": str,
                    "actor": str,
                    "action_id": str,
                    "data": str,
                },
                pk="seq",
                if_not_exists=True,
            )
        self._table("events").create_index(["actor", "action_id"], if_not_exists=True)
        create_views(self.db.conn)

    def get_meta(self) -> dict[str, str]:
        return {row["key"]: row["value"] for row in self.db["meta"].rows}

    def set_meta(self, values: dict[str, str]) -> None:
        with self.db.conn:
            self._table("meta").upsert_all(
                [{"key": k, "value": v} for k, v in values.items()], pk="key"
            )

    def last_seq(self) -> int:
        row = self.db.execute("SELECT max(seq) FROM events").fetchone()
        return int(row[0] or 0)

    def append(self, events: list[StoredEvent]) -> None:
        """Write one batch in one transaction; returns only once it is on disk.
        A plain executemany: this runs every tick, and sqlite-utils' insert_all (which
        inspects the table and chunks the rows) cost more than the insert itself."""
        rows = [_to_row(e) for e in events]
        conn = self.db.conn
        conn.execute("BEGIN")  # autocommit connection: without it, one fsync per row
        try:
            conn.executemany(INSERT_EVENT, rows)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def replay(self) -> Iterator[StoredEvent]:
        for row in self.db.query("SELECT * FROM events ORDER BY seq"):
            yield StoredEvent(
                row["seq"],
                row["ts"],
                row["step"],
                row["kind"],
                row["actor"],
                row["action_id"],
                json.loads(row["data"]),
            )

    def read_log(self) -> Log:
        from .replay import read_log

        return read_log(self.path)

    def close(self) -> None:
        self.db.conn.close()
        os.close(self._lock_fd)


INSERT_EVENT = (
    "INSERT INTO events (seq, ts, step, kind, actor, action_id, data) VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def _to_row(e: StoredEvent) -> tuple[Any, ...]:
    data = json.dumps(e.data, ensure_ascii=False)
    return (e.seq, e.ts, e.step, e.kind, e.actor, e.action_id, data)


def _take_lock(path: Path) -> int:
    """An flock on a side file: the kernel releases it when the process dies, even by SIGKILL."""
    lock_path = path.with_name(path.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise StoreError(
            f"Another Palabre server is already running on {path} (pid {holder}). "
            "Stop it first, or start this one with another --db."
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return fd


def now() -> float:
    return time.time()
