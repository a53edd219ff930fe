"""The workshop record: everything a workshop produced, as one JSON-ready document.

Exports (engine/exporters.py) and the report (engine/report.py) are written from it, never
from the database directly, so they cannot disagree. It is built from the event log by
replaying it, and holds no device id, cookie or secret: activities' exports leave them out
(their contract checks it), and `scrub` removes any that would slip through anyway. A
pseudonym appears only where an activity shows its owner's name (a team's members): the
name people chose to give when they joined is how they sign.

The document's shape is `RECORD_SCHEMA` (record.schema.json, JSON Schema 2020-12); its
`version` changes when a field changes meaning or goes away, not when one is added.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from .activity import Activity
from .events import StoredEvent
from .replay import Log, rebuild
from .workshop import Workshop

VERSION = 1
SCHEMA_ID = "palabre.workshop-record"
# Meta keys that are secrets or device-linked: never in a record. The rest of meta is the
# kit, which the record restates field by field.
SECRET_META = ("workshop_id", "facilitator_secret", "screen_token", "jury_token",
               "join_code", "cookie_key")  # fmt: skip
REMOVED = "[removed]"


def record_schema() -> dict[str, Any]:
    text = resources.files("palabre.engine").joinpath("record.schema.json").read_text("utf-8")
    return dict(json.loads(text))


def build_record(
    log: Log, activities: dict[str, type[Activity]], generated_at: float | None = None
) -> dict[str, Any]:
    """The record of the workshop in LOG, as of its last event."""
    secrets = [log.meta[key] for key in SECRET_META if log.meta.get(key)]
    return workshop_record(rebuild(log, activities), log.events, secrets, generated_at)


def workshop_record(
    workshop: Workshop,
    events: list[StoredEvent],
    secrets: list[str] | None = None,
    generated_at: float | None = None,
) -> dict[str, Any]:
    """The record of WORKSHOP, whose log is EVENTS (a rehearsal's, or the file's)."""
    kit = workshop.kit
    timing = _timing(events)
    last = len(workshop.steps) - 1
    finished = workshop.current == last and workshop.steps[last].opened
    record: dict[str, Any] = {
        "schema": SCHEMA_ID,
        "version": VERSION,
        "generated_at": _iso(generated_at if generated_at is not None else _now()),
        "status": "finished" if finished else "in_progress",
        "current_step": workshop.current_step.step.id,
        "workshop": {
            "title": kit.title,
            "language": kit.language,
            "place": kit.place,
            "date": kit.date,
            "kit": Path(kit.name).name,  # the file name: the server's folders stay private
            "tables": kit.tables,
            "expected": kit.expected,
            "started_at": _iso(events[0].ts) if events else None,
            "last_event_at": _iso(events[-1].ts) if events else None,
            "next_steps": workshop.next_steps,
        },
        "participation": _participation(workshop, events),
        "steps": [_step(workshop, index, timing) for index in range(len(workshop.steps))],
    }
    scrubbed: dict[str, Any] = scrub(record, _forbidden(events, workshop, secrets or []))
    return scrubbed


def _now() -> float:
    return datetime.now(UTC).timestamp()


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _step(workshop: Workshop, index: int, timing: dict[str, dict[str, Any]]) -> dict[str, Any]:
    runtime = workshop.steps[index]
    step = runtime.step
    seen = timing.get(step.id, {})
    return {
        "index": index + 1,
        "id": step.id,
        "title": step.title,
        "activity": step.activity.slug,
        "from": step.source,
        "opened": runtime.opened,
        "current": index == workshop.current,
        "started_at": _iso(seen["started"]) if "started" in seen else None,
        "ended_at": _iso(seen["ended"]) if "ended" in seen else None,
        "minutes": round(seen.get("seconds", 0.0) / 60, 1),
        "events": seen.get("events", 0),
        "participants": len(seen.get("actors", ())),
        "results": runtime.activity.export(runtime.state) if runtime.opened else None,
    }


def _timing(events: list[StoredEvent]) -> dict[str, dict[str, Any]]:
    """Per step: when it was first shown, last left, how long it was shown in all, how many
    events it had and who (participant ids, counted, never kept) acted in it."""
    found: dict[str, dict[str, Any]] = defaultdict(lambda: {"events": 0, "actors": set()})
    shown: str | None = None
    since = 0.0
    for event in events:
        if event.kind == "workshop.step_changed":
            if shown is not None:
                found[shown]["ended"] = event.ts
                found[shown]["seconds"] = found[shown].get("seconds", 0.0) + event.ts - since
            shown, since = event.data["step"], event.ts
            found[shown].setdefault("started", event.ts)
        elif event.step:
            found[event.step]["events"] += 1
            if event.actor and event.actor not in ("facilitator", "screen"):
                found[event.step]["actors"].add(event.actor)
    if shown is not None and events:  # the step on show: counted up to the last event
        found[shown]["seconds"] = found[shown].get("seconds", 0.0) + events[-1].ts - since
        found[shown].pop("ended", None)
    return found


def _participation(workshop: Workshop, events: list[StoredEvent]) -> dict[str, Any]:
    people = list(workshop.roster.people.values())
    participants = [p for p in people if p.actor.role == "participant"]
    acted = {e.actor for e in events if e.step and e.actor in workshop.roster}
    per_table = Counter(p.actor.table for p in participants if p.actor.table is not None)
    return {
        "participants": len(participants),
        "named": sum(1 for p in participants if p.actor.name),
        "active": len(acted & {p.actor.participant_id for p in participants}),
        "jurors": sum(1 for p in people if p.actor.role == "juror"),
        "languages": dict(sorted(Counter(p.lang for p in participants).items())),
        "tables": [{"table": t, "people": n} for t, n in sorted(per_table.items())],
    }


def _forbidden(events: list[StoredEvent], workshop: Workshop, secrets: list[str]) -> list[str]:
    ids = {e.actor for e in events if e.actor not in ("", "facilitator", "screen")}
    ids |= set(workshop.roster.people)
    # Longest first, so a secret holding an id is removed whole.
    return sorted((s for s in ids | set(secrets) if len(s) >= 6), key=len, reverse=True)


def scrub(value: Any, forbidden: list[str]) -> Any:
    """VALUE with every forbidden string (device id, secret) replaced, wherever it is."""
    if isinstance(value, str):
        for secret in forbidden:
            if secret in value:
                value = value.replace(secret, REMOVED)
        return value
    if isinstance(value, dict):
        return {scrub(k, forbidden): scrub(v, forbidden) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v, forbidden) for v in value]
    return value
