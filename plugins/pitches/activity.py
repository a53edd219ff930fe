"""The pitches activity: a queue of teams or projects, each with a large countdown.

Every timer change is an event holding absolute times computed by `handle` from the
action's server clock (`Action.at`); `reduce` only copies them, so a restart mid-pitch
replays the same deadline and the countdown carries on where it was.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from palabre.engine import N_, Action, Activity, Actor, Event, Item, Rejection

from . import views
from .model import (
    MAX_ADDED_SECONDS,
    PitchesConfig,
    PitchesState,
    Record,
    Timer,
)

F = frozenset({"facilitator"})
ACTIONS = ("start", "pause", "resume", "add_time", "reset", "done", "skip", "next", "previous")


class Pitches(Activity):
    slug = "pitches"
    name = N_("Pitches")
    Config = PitchesConfig
    config: PitchesConfig
    actions = {name: F for name in (*ACTIONS, "move")}

    def initial_state(self, inputs: list[Item]) -> PitchesState:
        items = inputs or [Item(**s.model_dump()) for s in self.config.items]
        by_id = {item.id: item for item in items}
        queue = list(by_id)
        return PitchesState(
            items=by_id,
            queue=queue,
            records={item_id: Record() for item_id in queue},
            current=queue[0] if queue else None,
            timer=Timer(remaining=self.config.duration_seconds),
        )

    # -- handle -----------------------------------------------------------------------------
    def handle(self, state: PitchesState, action: Action, actor: Actor) -> list[Event]:
        deciders: dict[str, Callable[[PitchesState, Action], list[Event]]] = {
            "start": self._start,
            "pause": self._pause,
            "resume": self._resume,
            "add_time": self._add_time,
            "reset": self._reset,
            "done": self._done,
            "skip": self._skip,
            "next": lambda s, a: self._go(s, a.at, 1),
            "previous": lambda s, a: self._go(s, a.at, -1),
            "move": self._move,
        }
        decide = deciders.get(action.name)
        if decide is None:
            raise Rejection("unknown_action", N_("Unknown action."))
        return decide(state, action)

    def _start(self, state: PitchesState, action: Action) -> list[Event]:
        item, record = _current(state)
        if state.timer.running:
            raise Rejection("running", N_("The timer is already running."))
        if record.phase in ("pitch", "questions"):
            raise Rejection("paused", N_("The timer is paused: resume it."))
        if record.phase == "done":
            raise _over()
        at = action.at
        return [_event("started", item, at=at, deadline=at + state.timer.remaining)]

    def _pause(self, state: PitchesState, action: Action) -> list[Event]:
        item, _ = _current(state)
        if not state.timer.running:
            raise Rejection("not_running", N_("The timer is not running."))
        at = action.at
        return [_event("paused", item, at=at, remaining=state.timer.left_at(at))]

    def _resume(self, state: PitchesState, action: Action) -> list[Event]:
        item, record = _current(state)
        if state.timer.running or record.phase not in ("pitch", "questions"):
            raise Rejection("not_paused", N_("The timer is not paused."))
        at = action.at
        return [_event("resumed", item, at=at, deadline=at + state.timer.remaining)]

    def _add_time(self, state: PitchesState, action: Action) -> list[Event]:
        item, record = _current(state)
        if record.phase == "done":
            raise _over()
        seconds = _whole(action.data.get("seconds"))
        if seconds is None or not 1 <= seconds <= MAX_ADDED_SECONDS:
            raise Rejection("bad_seconds", N_("Add between 1 second and 10 minutes."))
        if record.added + seconds > MAX_ADDED_SECONDS:
            raise Rejection(
                "too_much_time",
                N_("A pitch can get at most {minutes} extra minutes."),
                minutes=MAX_ADDED_SECONDS // 60,
            )
        return [_event("time_added", item, seconds=seconds)]

    def _reset(self, state: PitchesState, action: Action) -> list[Event]:
        item, _ = _current(state)
        return [_event("reset", item)]

    def _done(self, state: PitchesState, action: Action) -> list[Event]:
        item, record = _current(state)
        if record.phase == "ready":
            raise Rejection("not_started", N_("This pitch has not started."))
        if record.phase == "done":
            raise _over()
        events = _finish(state, action.at)
        questions = self.config.questions_seconds
        if record.phase == "pitch" and questions:
            at = action.at
            events.append(_event("questions_started", item, at=at, deadline=at + questions))
        return events

    def _go(self, state: PitchesState, at: float, step: int) -> list[Event]:
        target = state.neighbour(step)
        if target is None:
            if step > 0:
                raise Rejection("no_next", N_("This is the last pitch."))
            raise Rejection("no_previous", N_("This is the first pitch."))
        # Moving off a pitch that is being timed ends it, so its time is recorded.
        return [*_finish(state, at), _event("selected", target)]

    def _skip(self, state: PitchesState, action: Action) -> list[Event]:
        item = _item(state, action.data.get("item") or state.current)
        mode = action.data.get("mode", "later")
        if mode not in ("later", "drop"):
            raise Rejection("bad_mode", N_("Choose to put the pitch at the end or to skip it."))
        if state.records[item].ended_at is not None:
            raise _over()
        return [_event("skipped", item, mode=mode)]

    def _move(self, state: PitchesState, action: Action) -> list[Event]:
        item = _item(state, action.data.get("item"))
        direction = action.data.get("direction")
        if direction not in ("up", "down"):
            raise Rejection("bad_direction", N_("Move a pitch up or down."))
        to = state.queue.index(item) + (-1 if direction == "up" else 1)
        if not 0 <= to < len(state.queue):
            raise Rejection("out_of_range", N_("This pitch cannot move further."))
        return [_event("moved", item, to=to)]

    # -- reduce -----------------------------------------------------------------------------
    def reduce(self, state: PitchesState, event: Event) -> PitchesState:
        kind = event.kind.removeprefix("pitches.")
        d = event.data
        record = state.records[d["item"]]
        timer = state.timer
        if kind == "started":
            state.started += 1
            state.records[d["item"]] = Record(
                phase="pitch", added=record.added, started_at=d["at"], order=state.started
            )
            state.timer = Timer(0.0, d["deadline"], d["at"])
        elif kind == "paused":
            state.timer = Timer(d["remaining"], None, None, timer.used_at(d["at"]))
        elif kind == "resumed":
            state.timer = Timer(0.0, d["deadline"], d["at"], timer.used)
        elif kind == "questions_started":
            record.phase = "questions"
            state.timer = Timer(0.0, d["deadline"], d["at"])
        elif kind == "time_added":
            record.added += d["seconds"]
            if timer.deadline is not None:
                timer.deadline += d["seconds"]
            else:
                timer.remaining += d["seconds"]
        elif kind == "ended":
            record.phase, record.ended_at = "done", d["at"]
            record.seconds, record.left, record.overrun = d["seconds"], d["left"], d["overrun"]
            state.timer = Timer(d["left"])
        elif kind == "questions_ended":
            record.phase, record.questions_seconds = "done", d["seconds"]
            state.timer = Timer(record.left)
        elif kind == "selected":
            state.current = d["item"]
            state.timer = self._idle_timer(record)
        elif kind == "reset":
            state.records[d["item"]] = Record()
            state.timer = self._idle_timer(state.records[d["item"]])
        elif kind == "skipped":
            self._apply_skip(state, d["item"], d["mode"])
        elif kind == "moved":
            state.queue.remove(d["item"])
            state.queue.insert(d["to"], d["item"])
        return state

    def _apply_skip(self, state: PitchesState, item: str, mode: str) -> None:
        was_current = item == state.current
        if was_current:
            state.current = state.neighbour(1) or item
        state.records[item] = Record(skipped=mode == "drop")
        if mode == "later":
            state.queue.remove(item)
            state.queue.append(item)
        if was_current:  # its timing is abandoned; the next pitch waits for "start"
            state.timer = self._idle_timer(state.records[state.current or item])

    def _idle_timer(self, record: Record) -> Timer:
        if record.ended_at is not None:
            return Timer(record.left)  # a finished pitch shows how it ended
        return Timer(self.config.duration_seconds + record.added)

    # -- views ------------------------------------------------------------------------------
    def view(self, state: PitchesState, audience: str) -> dict[str, Any]:
        return views.shared(state, self.config, audience)

    def personal_view(self, state: PitchesState, me: Actor) -> dict[str, Any]:
        return views.personal(state, me)

    # -- outputs ----------------------------------------------------------------------------
    def outputs(self, state: PitchesState) -> list[Item]:
        """Every item, those pitched first in the order they were pitched; same `origin`."""
        records = state.records
        pitched = sorted((i for i in state.queue if records[i].pitched), key=_order(records))
        rest = [i for i in state.queue if not records[i].pitched]
        return [self._output(state, item_id) for item_id in pitched + rest]

    def _output(self, state: PitchesState, item_id: str) -> Item:
        record = state.records[item_id]
        seconds = record.seconds
        if record.pitched and record.ended_at is None and item_id == state.current:
            seconds = state.timer.used  # still being timed: what it had used at its last pause
        return Item.model_validate(
            state.items[item_id].model_dump()
            | {
                "pitched": record.pitched,
                "pitch_seconds": round(seconds),
                "overrun_seconds": round(record.overrun),
                "skipped": record.skipped,
            }
        )

    def export(self, state: PitchesState) -> dict[str, Any]:
        return views.export(state, self.config, self.outputs(state))


# -- helpers --------------------------------------------------------------------------------
def _event(kind: str, item: str, **data: Any) -> Event:
    return Event(f"pitches.{kind}", {"item": item, **data})


def _current(state: PitchesState) -> tuple[str, Record]:
    if state.current is None:
        raise Rejection("no_pitch", N_("There is no pitch in the queue."))
    return state.current, state.records[state.current]


def _item(state: PitchesState, raw: Any) -> str:
    if not isinstance(raw, str) or raw not in state.items:
        raise Rejection("unknown_item", N_("This pitch is not in the queue."))
    return raw


def _over() -> Rejection:
    return Rejection("pitch_over", N_("This pitch is over. Reset it to time it again."))


def _whole(raw: Any) -> int | None:
    try:
        return int(str(raw).strip())
    except ValueError:
        return None


def _finish(state: PitchesState, at: float) -> list[Event]:
    """The events that end whatever the current pitch is timing (nothing if it is not)."""
    record, timer = state.record, state.timer
    if state.current is None or record is None or record.phase in ("ready", "done"):
        return []
    used = timer.used_at(at)
    if record.phase == "questions":
        return [_event("questions_ended", state.current, at=at, seconds=used)]
    left = timer.left_at(at)
    return [_event("ended", state.current, at=at, seconds=used, left=left, overrun=max(0.0, -left))]


def _order(records: dict[str, Record]) -> Callable[[str], int]:
    return lambda item_id: records[item_id].order or 0
