"""Rebuilding a workshop from its database, read-only: for tests, exports and reports.

It takes no lock and writes nothing, so it can read the file of a running server (WAL lets
readers see every committed event)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from .activity import Activity
from .events import Log, StoredEvent
from .kits import parse_kit
from .workshop import Workshop


class ReadError(Exception):
    """The file is not a Palabre workshop (or cannot be read): said in one line."""


__all__ = ["Log", "ReadError", "load_workshop", "read_log", "rebuild"]


def read_log(db_path: Path) -> Log:
    if not db_path.is_file():
        raise ReadError(f"{db_path}: no such file")
    try:
        conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise ReadError(f"{db_path}: cannot open it: {exc}") from exc
    try:
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        rows = conn.execute(
            "SELECT seq, ts, step, kind, actor, action_id, data FROM events ORDER BY seq"
        ).fetchall()
    except sqlite3.DatabaseError as exc:
        raise ReadError(f"{db_path}: not a Palabre workshop file ({exc})") from exc
    finally:
        conn.close()
    if "kit" not in meta:
        raise ReadError(f"{db_path}: not a Palabre workshop file (it names no kit)")
    events = [
        StoredEvent(seq, ts, step, kind, actor, action_id, json.loads(data))
        for seq, ts, step, kind, actor, action_id, data in rows
    ]
    return Log(meta, events)


def rebuild(log: Log, activities: dict[str, type[Activity]]) -> Workshop:
    kit = parse_kit(log.meta["kit"], log.meta.get("kit_name", "kit.toml"), activities)
    workshop = Workshop(kit, log.meta["workshop_id"])
    for event in log.events:
        workshop.apply(event)
    return workshop


def load_workshop(db_path: Path, activities: dict[str, type[Activity]]) -> Workshop:
    return rebuild(read_log(db_path), activities)
