"""The jury step's state: score sheets, declared conflicts, the audience's dots."""

from __future__ import annotations

from dataclasses import dataclass, field

from palabre.engine import Item
from palabre.plugins.common.dots import Dots


@dataclass
class JuryState:
    items: dict[str, Item]
    revealed: bool
    open: bool = True
    # juror id -> item id -> criterion id -> score; a conflict hides a sheet, never deletes it
    sheets: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    conflicts: dict[str, set[str]] = field(default_factory=dict)
    dots: Dots = field(default_factory=Dots)
    unpitched: list[Item] = field(default_factory=list)  # left out: shown to the facilitator

    def conflicted(self, juror: str, item_id: str) -> bool:
        return item_id in self.conflicts.get(juror, set())

    def sheet(self, juror: str, item_id: str) -> dict[str, int]:
        return self.sheets.get(juror, {}).get(item_id, {})
