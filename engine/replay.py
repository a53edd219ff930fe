"""Rebuilding a workshop from its database, read-only: for tests, exports and reports.

It takes no lock and writes nothing, so it can read the file of a running server (WAL lets
readers see every committed event)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from .activity import Activity
from .events import StoredEvent
from .kits import parse_kit
from .workshop import Workshop


def load_workshop(db_path: Path, activities: dict[str, type[Activity]]) -> Workshop:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        kit = parse_kit(meta["kit"], meta.get("kit_name", "kit.toml"), activities)
        workshop = Workshop(kit, meta["workshop_id"])
        rows = conn.execute(
            "SELECT seq, ts, step, kind, actor, action_id, data FROM events ORDER BY seq"
        )
        for seq, ts, step, kind, actor, action_id, data in rows:
            workshop.apply(StoredEvent(seq, ts, step, kind, actor, action_id, json.loads(data)))
        return workshop
    finally:
        conn.close()
