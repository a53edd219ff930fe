"""View models of the pitches activity (rendered by templates/*.html) and its export."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from palabre.engine import Actor, Item

from .model import (
    MAX_ADDED_SECONDS,
    PitchesConfig,
    PitchesState,
    Record,
    countdown,
    duration_text,
)
from .sheet import is_members_turn, sheet

ADD_CHOICES = (30, 60)  # the panel's "+30 s" and "+1 min"


@dataclass(frozen=True)
class Row:
    """One pitch in the running order (titles only: team and project names, no people)."""

    id: str
    title: str
    group: str
    status: str  # "current", "done", "skipped", "waiting"
    first: bool
    last: bool
    record: Record

    @property
    def used(self) -> str:
        return duration_text(self.record.seconds)

    @property
    def over(self) -> str:
        return duration_text(self.record.overrun) if round(self.record.overrun) > 0 else ""


def shared(state: PitchesState, config: PitchesConfig, audience: str) -> dict[str, Any]:
    record = state.record
    phase = record.phase if record is not None else "ready"
    current = state.items[state.current] if state.current is not None else None
    following = state.neighbour(1)
    view: dict[str, Any] = {
        "empty": not state.queue,
        "sheet": sheet(current) if current is not None else None,
        "phase": phase,
        "record": record,
        "timer": countdown(state.timer, phase, config.warn_seconds),
        "position": state.position() + 1,
        "total": len(state.queue),
        "done_count": sum(1 for r in state.records.values() if r.ended_at is not None),
        "finished": _finished(state),
        "next_title": state.items[following].title if following is not None else "",
        "questions": config.questions_seconds > 0,
    }
    if audience in ("facilitator", "participant"):
        view["queue"] = _rows(state)
    if audience == "facilitator":
        added = record.added if record is not None else 0.0
        view["add_choices"] = [(s, added + s <= MAX_ADDED_SECONDS) for s in ADD_CHOICES]
        view["added"] = round(added)
        view["config"] = config
        view["is_last"] = following is None
    return view


def personal(state: PitchesState, me: Actor) -> dict[str, Any]:
    record = state.record
    current = state.items[state.current] if state.current is not None else None
    following = state.neighbour(1)
    upcoming = state.items[following] if following is not None else None
    presenting = record is not None and record.phase != "done" and not record.skipped
    return {
        "your_turn": presenting and is_members_turn(current, me.participant_id, me.table),
        "you_are_next": is_members_turn(upcoming, me.participant_id, me.table),
    }


def _rows(state: PitchesState) -> list[Row]:
    last = len(state.queue) - 1
    return [
        Row(
            item_id,
            state.items[item_id].title,
            state.items[item_id].group,
            _status(state, item_id),
            n == 0,
            n == last,
            state.records[item_id],
        )
        for n, item_id in enumerate(state.queue)
    ]


def _status(state: PitchesState, item_id: str) -> str:
    record = state.records[item_id]
    if item_id == state.current:
        return "current"
    if record.ended_at is not None:
        return "done"
    return "skipped" if record.skipped else "waiting"


def _finished(state: PitchesState) -> bool:
    """Every pitch told or skipped, and none being timed."""
    return bool(state.queue) and all(
        r.skipped or (r.ended_at is not None and r.phase == "done") for r in state.records.values()
    )


def export(state: PitchesState, config: PitchesConfig, outputs: list[Item]) -> dict[str, Any]:
    """Per pitch: when it started and ended, time used and overrun (for the day's report);
    participant ids (a team's `members`) are left out."""
    rows = []
    for item in outputs:
        r = state.records[item.id]
        rows.append(
            {
                "id": item.id,
                "title": item.title,
                "order": r.order,
                "pitched": r.pitched,
                "skipped": r.skipped,
                "started_at": r.started_at,
                "ended_at": r.ended_at,
                "pitch_seconds": round(r.seconds),
                "overrun_seconds": round(r.overrun),
                "added_seconds": round(r.added),
                "questions_seconds": round(r.questions_seconds),
            }
        )
    return {
        "duration_seconds": config.duration_seconds,
        "questions_seconds": config.questions_seconds,
        "pitches": rows,
        "outputs": [_without_members(item.model_dump()) for item in outputs],
    }


def _without_members(data: dict[str, Any]) -> dict[str, Any]:
    data.pop("members", None)
    data.pop("captain", None)  # a device id too
    data["origin"] = [_without_members(parent) for parent in data.get("origin", [])]
    return data
