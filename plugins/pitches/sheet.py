"""A project's sheet as the room sees it: title, group, where it comes from, and the extra
fields the earlier steps put on the Item (need, objective, place, budget…)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from palabre.engine import N_, Item

# Known keys get a translated label and come first, in the order a pitch tells them.
LABELS: dict[str, str] = {
    "table": N_("Table"),
    "need": N_("Need"),
    "objective": N_("Objective"),
    "audience": N_("Who it is for"),
    "place": N_("Place"),
    "budget": N_("Budget"),
    "partners": N_("Partners"),
    "skills": N_("Skills"),
    "resources": N_("Resources"),
    "timeline": N_("Timeline"),
}
ORIGIN_LABELS: dict[str, str] = {
    "project": N_("Project"),
    "axis": N_("Axis"),
    "challenge": N_("Challenge"),
    "idea": N_("Idea"),
    "theme": N_("Theme"),
    "problem": N_("Problem"),
}
FROM_LABEL = N_("From")
# Never on a sheet: people's device ids and names (the screen shows no identity), counters
# of earlier steps, and the fields this step itself adds to its outputs.
HIDDEN = frozenset(
    {
        "members",
        "member_names",
        "author",
        "authors",
        "participant",
        "participants",
        "captain",
        "owner",
        "merged",
        "votes",
        "dots",
        "pitched",
        "pitch_seconds",
        "overrun_seconds",
        "skipped",
        # bookkeeping of earlier steps: ids, counts, ranks, and people's names
        "captain_name",
        "item_id",
        "name",
        "size",
        "theme",
        "rank",
        "tied",
        "frame",
        "owner_name",
    }
)


@dataclass(frozen=True)
class Field:
    label: str
    value: str
    translate: bool  # a known key's label is a msgid; an unknown key is shown as written


@dataclass(frozen=True)
class Sheet:
    id: str
    title: str
    group: str = ""
    description: str = ""
    origin_label: str = ""
    origin_title: str = ""
    fields: list[Field] = field(default_factory=list)


def sheet(item: Item) -> Sheet:
    """The item's own fields first; a team's sheet also shows its project's (origin) fields."""
    parent = item.origin[0] if item.origin else None
    values = _values(item)
    if parent is not None:
        values = _values(parent) | values
    known = [Field(LABELS[k], values[k], True) for k in LABELS if k in values]
    unknown = [Field(_humane(k), v, False) for k, v in values.items() if k not in LABELS]
    origin_label = origin_title = ""
    if parent is not None and parent.title not in (item.title, item.group):
        origin_label = ORIGIN_LABELS.get(parent.kind, FROM_LABEL)
        origin_title = parent.title
    return Sheet(
        id=item.id,
        title=item.title,
        group=item.group or (parent.group if parent else ""),
        description=item.description or (parent.description if parent else ""),
        origin_label=origin_label,
        origin_title=origin_title,
        fields=known + unknown,
    )


def _values(item: Item) -> dict[str, str]:
    shown: dict[str, str] = {}
    for key, raw in (item.model_extra or {}).items():
        # Names of people never reach the projector, whatever an earlier step called them.
        if key in HIDDEN or key.startswith("_") or key.endswith(("_name", "_names")):
            continue
        text = _text(raw)
        if text:
            shown[key] = text
    return shown


def _text(raw: Any) -> str:
    if isinstance(raw, bool) or raw is None:
        return ""  # a bare yes/no means nothing without its question
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    if isinstance(raw, (int, float)):
        return str(raw)
    if isinstance(raw, str):
        return raw.strip()
    if isinstance(raw, list) and all(isinstance(v, (str, int, float)) for v in raw):
        return ", ".join(str(v).strip() for v in raw if str(v).strip())
    return ""


def _humane(key: str) -> str:
    text = key.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def is_members_turn(item: Item | None, participant_id: str | None, table: int | None) -> bool:
    """Whether a person presents this item: listed in its `members`, or seated at its table."""
    if item is None or participant_id is None:
        return False
    extra = item.model_extra or {}
    members = extra.get("members")
    if isinstance(members, list) and participant_id in members:
        return True
    return table is not None and extra.get("table") == table and not isinstance(members, list)
