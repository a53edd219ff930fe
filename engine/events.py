"""The event as stored in the log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StoredEvent:
    """One row of the `events` table.

    `step` is the step id, or "" for workshop-level events (joins, navigation).
    `actor` is a participant id, "facilitator", or "" for the engine itself.
    `action_id` is the client-made id of the action that caused it ("" if none).
    """

    seq: int
    ts: float
    step: str
    kind: str
    actor: str
    action_id: str
    data: dict[str, Any]


@dataclass(frozen=True)
class Log:
    """What a workshop's store holds: its meta rows (secrets included: keep them in) and
    its events in order."""

    meta: dict[str, str]
    events: list[StoredEvent]
