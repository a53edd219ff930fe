"""A running workshop: the kit's steps, their states, participants, and the action pipeline.

Everything here is synchronous and runs on the event loop's thread: deciding on an action
and applying its events happen with no `await` in between, so a check (dots left, step
open) can never be raced by another socket.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .activity import ALL, N_, Action, Activity, Actor, Event, Item, Rejection
from .events import StoredEvent
from .kits import Kit, Step
from .roster import ROSTER_ACTIONS, Roster
from .store import now
from .text import clean_text

WORKSHOP_ACTIONS: dict[str, frozenset[str]] = {
    "next": frozenset({"facilitator"}),
    "previous": frozenset({"facilitator"}),
    "goto": frozenset({"facilitator"}),
    "toggle_join": frozenset({"facilitator"}),
    "toggle_blackout": frozenset({"facilitator"}),
    "set_next_steps": frozenset({"facilitator"}),
}
MAX_NEXT_STEPS = 2000  # characters: a few paragraphs for the report, not a document


@dataclass
class StepRuntime:
    step: Step
    activity: Activity
    state: Any = None
    opened: bool = False


@dataclass
class Changes:
    """What one batch of events changed, so the hub re-renders only that."""

    shared: bool = False
    participants: set[str] = field(default_factory=set)
    all_participants: bool = False

    def add(self, other: Changes) -> None:
        self.shared |= other.shared
        self.all_participants |= other.all_participants
        self.participants |= other.participants


class Workshop:
    def __init__(self, kit: Kit, workshop_id: str) -> None:
        self.kit = kit
        self.id = workshop_id
        self._reset()

    def _reset(self) -> None:
        kit = self.kit
        self.roster = Roster(kit.tables)
        self.steps = [StepRuntime(s, s.activity(s.config)) for s in kit.steps]
        for runtime in self.steps:
            runtime.activity.roster = self.roster.actors
        self.current = 0
        self.join_shown = False
        self.blackout = False  # the facilitator's "black screen" on the projector
        self.next_steps = ""  # what happens after the day, typed for the report
        self.seq = 0
        # (actor key, client action id) -> seq of its first event (0: accepted, no event)
        self.seen_actions: dict[tuple[str, str], int] = {}

    # -- reading ------------------------------------------------------------------------
    @property
    def current_step(self) -> StepRuntime:
        return self.steps[self.current]

    def step_by_id(self, step_id: str) -> StepRuntime | None:
        return next((s for s in self.steps if s.step.id == step_id), None)

    def join_visible(self) -> bool:
        return self.join_shown or self.current_step.step.show_join

    def actor_for(self, role: str, participant_id: str | None) -> Actor:
        """The acting person as they are now (table and captaincy may have changed)."""
        person = self.roster.get(participant_id)
        if person is not None:
            return person.actor
        return Actor(role, participant_id)  # type: ignore[arg-type]

    # -- deciding -----------------------------------------------------------------------
    def decide(
        self,
        actor: Actor,
        step_id: str | None,
        name: str,
        data: dict[str, Any],
        action_id: str,
        at: float = 0.0,
    ) -> list[StoredEvent]:
        """The events an action causes, numbered but not yet applied. Raises Rejection."""
        if step_id is None:
            events = self._decide_workshop(actor, name, data)
            target = ""
        else:
            runtime = self._open_step(step_id)
            _authorise(runtime.activity.actions, actor, name)
            events = runtime.activity.handle(runtime.state, Action(name, data, at), actor)
            target = step_id
        return [self._stamp(e, target, actor, action_id) for e in events]

    def join_event(
        self,
        name: str,
        lang: str,
        role: str = "participant",
        table: int | None = None,
        captain: bool = False,
    ) -> StoredEvent:
        event = self.roster.join(name, lang, role, table, captain)
        actor = Actor(role, event.actor)  # type: ignore[arg-type]
        return self._stamp(event, "", actor, "")

    def _open_step(self, step_id: str) -> StepRuntime:
        runtime = self.current_step
        if runtime.step.id != step_id:
            raise Rejection("step_over", N_("This step is over; the page will refresh."))
        return runtime

    def _decide_workshop(self, actor: Actor, name: str, data: dict[str, Any]) -> list[Event]:
        if name in ROSTER_ACTIONS:
            _authorise(ROSTER_ACTIONS, actor, name)
            return self.roster.decide(name, data)
        _authorise(WORKSHOP_ACTIONS, actor, name)
        if name == "toggle_join":
            return [Event("workshop.join_toggled", {"shown": not self.join_shown})]
        if name == "toggle_blackout":
            return [Event("workshop.blackout_toggled", {"on": not self.blackout})]
        if name == "set_next_steps":
            text = clean_text(
                data.get("text"), field="text", max_graphemes=MAX_NEXT_STEPS,
                required=False, multiline=True,
            )  # fmt: skip
            return (
                []
                if text == self.next_steps
                else [Event("workshop.next_steps_set", {"text": text})]
            )
        target = self._target_index(name, data)
        events = [Event("workshop.step_changed", {"step": self.steps[target].step.id})]
        runtime = self.steps[target]
        if not runtime.opened:
            inputs = self._inputs_for(runtime.step)
            events.append(
                Event(
                    "workshop.step_opened",
                    {"step": runtime.step.id, "inputs": [i.model_dump() for i in inputs]},
                )
            )
        return events

    def _target_index(self, name: str, data: dict[str, Any]) -> int:
        if name == "next":
            target = self.current + 1
        elif name == "previous":
            target = self.current - 1
        else:
            runtime = self.step_by_id(str(data.get("step", "")))
            if runtime is None:
                raise Rejection("unknown_step", N_("There is no such step."))
            target = runtime.step.index
        if not 0 <= target < len(self.steps):
            raise Rejection("no_such_step", N_("There is no step in that direction."))
        return target

    def _inputs_for(self, step: Step) -> list[Item]:
        if step.source is None:
            return []
        source = self.step_by_id(step.source)
        if source is None or not source.opened:
            return []
        return source.activity.outputs(source.state)

    def _stamp(self, event: Event, step: str, actor: Actor, action_id: str) -> StoredEvent:
        self.seq += 1
        return StoredEvent(
            self.seq, now(), step, event.kind, event.actor or actor.key, action_id, event.data
        )

    # -- applying -----------------------------------------------------------------------
    def apply(self, ev: StoredEvent) -> Changes:
        """Fold one event into the state (also used by replay)."""
        self.seq = max(self.seq, ev.seq)
        if ev.action_id:
            self.seen_actions.setdefault((ev.actor, ev.action_id), ev.seq)
        if ev.step:
            return self._apply_step_event(ev)
        return self._apply_workshop_event(ev)

    def _apply_workshop_event(self, ev: StoredEvent) -> Changes:
        if ev.kind.startswith("participant."):
            return Changes(shared=True, participants=self.roster.apply(ev.kind, ev.data, ev.ts))
        if ev.kind == "workshop.join_toggled":
            self.join_shown = bool(ev.data["shown"])
            return Changes(shared=True)
        if ev.kind == "workshop.blackout_toggled":
            self.blackout = bool(ev.data["on"])
            return Changes(shared=True)
        if ev.kind == "workshop.next_steps_set":
            self.next_steps = str(ev.data["text"])
            return Changes(shared=True)
        if ev.kind == "workshop.step_changed":
            runtime = self.step_by_id(ev.data["step"])
            assert runtime is not None, ev
            self.current = runtime.step.index
            return Changes(shared=True, all_participants=True)
        if ev.kind == "workshop.step_opened":
            runtime = self.step_by_id(ev.data["step"])
            assert runtime is not None, ev
            inputs = [Item.model_validate(i) for i in ev.data["inputs"]]
            runtime.state = runtime.activity.initial_state(inputs)
            runtime.opened = True
            return Changes(shared=True, all_participants=True)
        raise ValueError(f"unknown workshop event {ev.kind!r}")

    def _apply_step_event(self, ev: StoredEvent) -> Changes:
        runtime = self.step_by_id(ev.step)
        assert runtime is not None, ev
        event = Event(ev.kind, ev.data, ev.actor)
        runtime.state = runtime.activity.reduce(runtime.state, event)
        affected = runtime.activity.affected_participants(runtime.state, event)
        if affected == ALL:
            return Changes(shared=True, all_participants=True)
        return Changes(shared=True, participants=set(_ids(affected)))

    def rebuild(self, log: Iterable[StoredEvent]) -> None:
        """Start again from `log` (what is on disk), in place: after an activity raised
        while folding an event, memory may hold half of it."""
        self._reset()
        for event in log:
            self.apply(event)

    def open_first_step(self) -> list[StoredEvent]:
        """Events that put a new workshop on its first step."""
        facilitator = Actor("facilitator")
        return [
            self._stamp(e, "", facilitator, "")
            for e in (
                Event("workshop.step_changed", {"step": self.steps[0].step.id}),
                Event("workshop.step_opened", {"step": self.steps[0].step.id, "inputs": []}),
            )
        ]


def _authorise(allowed: dict[str, frozenset[str]] | Any, actor: Actor, name: str) -> None:
    roles = allowed.get(name)
    if roles is None:
        raise Rejection("unknown_action", N_("Unknown action."))
    if actor.role not in roles:
        raise Rejection("forbidden", N_("You are not allowed to do that."))


def _ids(affected: Iterable[str]) -> Iterable[str]:
    return (a for a in affected if a)
