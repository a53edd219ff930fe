"""The Activity base class and the small types activities work with."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo

Role = Literal["facilitator", "screen", "participant", "juror"]
Audience = Literal["facilitator", "screen", "participant"]
ALL: frozenset[str] = frozenset({"*"})


def N_(message: str) -> str:
    """Mark a message for translation; it is translated when shown to a person."""
    return message


class Rejection(Exception):
    """An action refused with a reason the person who sent it can read.

    `message` is an English msgid (mark it with `N_`); the engine translates it into the
    actor's language and formats it with `params`.
    """

    def __init__(self, code: str, message: str, **params: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.params = params


@dataclass(frozen=True)
class Actor:
    """Who acts or looks: a role and, for people with a phone, their stable id, the name
    they chose, their table (if the kit seats people at tables) and whether they captain it.
    Jurors are people with a phone whose role is "juror"."""

    role: Role
    participant_id: str | None = None
    name: str = ""
    table: int | None = None
    captain: bool = False

    @property
    def key(self) -> str:
        return self.participant_id or self.role


@dataclass(frozen=True)
class Action:
    """What someone asked for. `at` is the server's clock when it arrived (seconds since the
    epoch): use it for deadlines, never `time.time()`, so tests can control time."""

    name: str
    data: Mapping[str, Any]
    at: float = 0.0


@dataclass(frozen=True)
class Event:
    """A fact about a step, returned by `handle` and folded by `reduce`."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    actor: str = ""


class Item(BaseModel):
    """What flows from one step to the next: a problem, an axis, an idea, a team, a project.

    `origin` holds the items this one came from (an axis holds its problems, a project its
    axis, a team its project), so any result can be traced back to the diagnosis.
    `group` is a label shared by related items (a theme, an axis title).
    """

    model_config = ConfigDict(extra="allow")

    id: str
    title: str
    description: str = ""
    kind: str = ""
    group: str = ""
    score: float | None = None
    origin: list[Item] = Field(default_factory=list)

    def trail(self) -> list[Item]:
        """Every ancestor, nearest first (depth-first through `origin`)."""
        found: list[Item] = []
        for parent in self.origin:
            found.append(parent)
            found.extend(parent.trail())
        return found


class ActivityConfig(BaseModel):
    """Base for activity settings; unknown keys are mistakes, so they are refused."""

    model_config = ConfigDict(extra="forbid")


def require_tables(setting: str, info: ValidationInfo) -> None:
    """For a Config validator: refuse `setting` in a kit that seats nobody at tables.

    Loading a kit passes its settings as the validation context; without a context (a
    Config built in a test) nothing is checked."""
    if info.context is not None and not info.context.get("tables"):
        raise ValueError(f"{setting} needs tables: set tables = N in the kit's [workshop]")


class Activity:
    """One kind of step. Subclass it, set `slug`, and return the class from `register_activities`.

    Reads top to bottom: config, handle, reduce, views, outputs, export.
    `actions` maps each action name to the roles allowed to send it; the engine refuses
    any other (role, action) pair before `handle` is called.
    """

    slug: ClassVar[str]
    name: ClassVar[str]
    Config: ClassVar[type[ActivityConfig]] = ActivityConfig
    actions: ClassVar[Mapping[str, frozenset[str]]] = {}

    def __init__(self, config: ActivityConfig) -> None:
        self.config = config
        # Everyone who joined, by participant id; kept current by the engine, read-only here.
        self.roster: Mapping[str, Actor] = {}

    def initial_state(self, inputs: list[Item]) -> Any:
        """The state of a step when it first opens; `inputs` are the `from` step's outputs."""
        return {}

    def handle(self, state: Any, action: Action, actor: Actor) -> list[Event]:
        """Check an action and return the events it causes; raise `Rejection` to refuse.

        Must not change `state`: only `reduce` does, so a refused action leaves no trace.
        """
        raise Rejection("unknown_action", N_("Unknown action."))

    def reduce(self, state: Any, event: Event) -> Any:
        """Fold one event into the state. Deterministic: replaying the log rebuilds the state.

        It may update `state` in place, and returns it.
        """
        return state

    def affected_participants(self, state: Any, event: Event) -> Iterable[str]:
        """Participants whose personal view an event changes (default: the actor; all if
        the facilitator acted)."""
        if event.actor in ("facilitator", "screen", ""):
            return ALL
        return (event.actor,)

    def view(self, state: Any, audience: Audience) -> dict[str, Any]:
        """The shared view model for an audience, rendered with `<slug>/<audience>.html`.

        Screen views must carry no participant identity.
        """
        return {}

    def personal_view(self, state: Any, me: Actor) -> dict[str, Any]:
        """One person's own part (dots left, their ideas, a juror's score sheet), rendered
        with `<slug>/personal.html`."""
        return {}

    def outputs(self, state: Any) -> list[Item]:
        """What later steps may take as input with `from = "<this step>"`."""
        return []

    def export(self, state: Any) -> dict[str, Any]:
        """A JSON-serialisable record of the step's results, without device ids."""
        return {"outputs": [item.model_dump() for item in self.outputs(state)]}
