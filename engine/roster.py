"""The people in a workshop: who joined, in which language, at which table, with which role."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from typing import Any

from .activity import N_, Actor, Event, Rejection

ROSTER_ACTIONS: dict[str, frozenset[str]] = {
    "set_captain": frozenset({"facilitator"}),
    "set_table": frozenset({"facilitator"}),
}


@dataclass(frozen=True)
class Person:
    actor: Actor
    lang: str
    joined_at: float


class Roster:
    """People by participant id. Activities read `actors` (kept current, same dict object)."""

    def __init__(self, tables: int) -> None:
        self.tables = tables
        self.people: dict[str, Person] = {}
        self.actors: dict[str, Actor] = {}

    def __contains__(self, participant_id: object) -> bool:
        return participant_id in self.people

    def __len__(self) -> int:
        return len(self.people)

    def get(self, participant_id: str | None) -> Person | None:
        return self.people.get(participant_id or "")

    def captain_of(self, table: int) -> str | None:
        return next(
            (a.participant_id for a in self.actors.values() if a.table == table and a.captain), None
        )

    # -- deciding -----------------------------------------------------------------------
    def join(self, name: str, lang: str, role: str, table: int | None, captain: bool) -> Event:
        self._check_table(table)
        if captain and table is not None and self.captain_of(table):
            raise Rejection(
                "captain_taken",
                N_("Table {table} already has a captain."),
                table=table,
                field="captain",
            )
        participant_id = secrets.token_urlsafe(16)
        data = {
            "participant": participant_id,
            "name": name,
            "lang": lang,
            "role": role,
            "table": table,
            "captain": bool(captain and table is not None),
        }
        return Event("participant.joined", data, participant_id)

    def decide(self, name: str, data: dict[str, Any]) -> list[Event]:
        person = self.get(str(data.get("participant", "")))
        if person is None:
            raise Rejection("unknown_participant", N_("This person is not in the workshop."))
        pid = person.actor.participant_id
        if name == "set_table":
            table = _as_table(data.get("table"))
            self._check_table(table)
            return [Event("participant.table_set", {"participant": pid, "table": table})]
        captain = str(data.get("captain", "")) in ("1", "true", "on")
        if captain and person.actor.table is None:
            raise Rejection("no_table", N_("Give this person a table first."))
        events = []
        current = self.captain_of(person.actor.table) if person.actor.table else None
        if captain and current and current != pid:
            events.append(
                Event("participant.captain_set", {"participant": current, "captain": False})
            )
        events.append(Event("participant.captain_set", {"participant": pid, "captain": captain}))
        return events

    def _check_table(self, table: int | None) -> None:
        if table is None:
            return
        if not 1 <= table <= self.tables:
            raise Rejection(
                "unknown_table", N_("There is no table {table}."), table=table, field="table"
            )

    # -- applying -----------------------------------------------------------------------
    def apply(self, kind: str, data: dict[str, Any], ts: float) -> set[str]:
        """Fold one roster event; returns who sees a change: the person and the people at
        the tables they left and joined (their table-mates and captain changed)."""
        pid = data["participant"]
        before = self.people[pid].actor.table if pid in self.people else None
        if kind == "participant.joined":
            actor = Actor(
                data.get("role", "participant"),
                pid,
                data["name"],
                data.get("table"),
                bool(data.get("captain")),
            )
            self.people[pid] = Person(actor, data["lang"], ts)
        elif kind == "participant.table_set":
            self._update(pid, table=data["table"], captain=False)
        elif kind == "participant.captain_set":
            self._update(pid, captain=bool(data["captain"]))
        else:
            raise ValueError(f"unknown roster event {kind!r}")
        self.actors[pid] = self.people[pid].actor
        tables = {before, self.actors[pid].table} - {None}
        return {str(pid)} | {
            a.participant_id or "" for a in self.actors.values() if a.table in tables
        }

    def _update(self, pid: str, **changes: Any) -> None:
        person = self.people[pid]
        self.people[pid] = replace(person, actor=replace(person.actor, **changes))


def _as_table(value: Any) -> int | None:
    if value in (None, "", "0"):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise Rejection("unknown_table", N_("Choose a table number."), field="table") from None
