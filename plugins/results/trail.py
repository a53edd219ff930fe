"""Where a result came from: walk `Item.trail()` back to the team, the project, the axis and
the diagnosis problems it answers, whatever steps the kit used in between."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from palabre.engine import Item

# Kinds the built-in activities give their outputs; a kit's own kinds fall through harmlessly.
TEAM_KINDS = frozenset({"team"})
PROJECT_KINDS = frozenset({"project", "idea", "pitch", "challenge"})
AXIS_KINDS = frozenset({"axis"})
PROBLEM_KINDS = frozenset({"problem"})


@dataclass(frozen=True)
class Trail:
    team: str = ""
    project: str = ""
    axis: str = ""
    problems: tuple[str, ...] = ()
    # participant ids of the team's members: for "your team" on a phone, never displayed
    members: frozenset[str] = field(default_factory=frozenset)

    def __bool__(self) -> bool:
        return bool(self.team or self.project or self.axis or self.problems)


def trail_of(item: Item) -> Trail:
    chain = [item, *item.trail()]
    # A title is worth repeating only when it differs from the headline (the item's own).
    team = next((i for i in chain if _is_team(i) and i.title != item.title), None)
    project = next((i for i in chain if _is_project(i) and i.title != item.title), None)
    axis = next((i for i in chain if i.kind in AXIS_KINDS), None)
    problems: dict[str, str] = {}
    for i in chain:
        if i.kind in PROBLEM_KINDS:
            problems.setdefault(i.id, i.title)
    return Trail(
        team=team.title if team is not None else "",
        project=project.title if project is not None else "",
        axis=axis.title if axis is not None else "",
        problems=tuple(problems.values()),
        members=frozenset(m for i in chain if _is_team(i) for m in _members(i)),
    )


def _is_project(item: Item) -> bool:
    """What a team worked on: a project, an idea, a subject, a kit's own challenge (kit items
    have no kind) — anything that is not a team, an axis or a problem."""
    if item.kind in PROJECT_KINDS:
        return True
    return not (_is_team(item) or item.kind in AXIS_KINDS or item.kind in PROBLEM_KINDS)


def _is_team(item: Item) -> bool:
    return item.kind in TEAM_KINDS or "members" in (item.model_extra or {})


def _members(item: Item) -> Iterable[str]:
    """`members` is a list of participant ids (or of {"participant": id} records)."""
    raw: Any = (item.model_extra or {}).get("members") or []
    for member in raw if isinstance(raw, list | tuple | set) else []:
        if isinstance(member, str):
            yield member
        elif isinstance(member, dict):
            found = member.get("participant") or member.get("participant_id") or member.get("id")
            if isinstance(found, str):
                yield found
