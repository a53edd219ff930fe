"""The ideation activity: post, edit, withdraw; the facilitator hides and merges (and undoes
both).

Two additions for a full day: an idea can be *framed* by one of the step's inputs (an axis,
a challenge) and becomes its descendant; and a table can share one *sheet* (a project with
its need, budget, partners…) that every member of the table edits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from palabre.engine import (
    N_,
    Action,
    Activity,
    ActivityConfig,
    Actor,
    Event,
    Item,
    Rejection,
    require_tables,
)
from palabre.plugins.common import posts
from palabre.plugins.common.posts import Board, ExtraField, Limits, Post, PostRules, Wording

__all__ = ["ExtraField", "Ideation", "IdeationConfig", "IdeationState"]

SCREEN_CARDS = 12  # the newest ideas the projector shows; the count says how many in all
SCREEN_SHEETS = 24  # table sheets: one per table fits beside nothing else (21 tables)

RULES = PostRules(
    "ideation",
    "idea",
    "unknown_idea",
    Wording(
        closed=N_("Ideas are closed for now."),
        too_many=N_("You have reached the most ideas allowed ({limit})."),
        duplicate=N_("You already posted this idea."),
        not_yours=N_("You can only change your own ideas."),
        merged=N_("This idea was merged with another one."),
        unknown=N_("This idea does not exist (any more)."),
        bad_merge=N_("Pick two different visible ideas to merge."),
        not_merged=N_("This idea is not merged into another one."),
    ),
    group_key="frame",
)
TABLE_RULES = PostRules(
    "ideation",
    "idea",
    "unknown_idea",
    Wording(
        closed=RULES.wording.closed,
        too_many=N_("Your table has reached the most ideas allowed ({limit})."),
        duplicate=N_("Your table already posted this idea."),
        not_yours=N_("You can only change your table’s ideas."),
        merged=RULES.wording.merged,
        unknown=RULES.wording.unknown,
        bad_merge=RULES.wording.bad_merge,
        not_merged=RULES.wording.not_merged,
    ),
    group_key="frame",
)


# -- config ---------------------------------------------------------------------------------
class IdeationConfig(ActivityConfig):
    prompt: str = Field(default="", max_length=200)
    max_title: int = Field(default=80, ge=10, le=200)
    max_description: int = Field(default=280, ge=0, le=2000)
    max_ideas_per_participant: int = Field(default=10, ge=1, le=100)
    extra_fields: list[ExtraField] = Field(default_factory=list, max_length=8)
    # "auto": when the step has inputs (`from`), each idea answers one of them.
    framed: Literal["auto", "never"] = "auto"
    # "table": one shared sheet per table, edited by everyone seated there.
    sheet: Literal["participant", "table"] = "participant"

    @field_validator("sheet")
    @classmethod
    def _table_sheets_need_tables(cls, sheet: str, info: ValidationInfo) -> str:
        if sheet == "table":
            require_tables('sheet = "table"', info)
        return sheet

    max_ideas_per_table: int = Field(default=1, ge=1, le=20)
    output_kind: str = Field(default="idea", pattern=r"^[a-z][a-z_]{0,19}$")

    @model_validator(mode="after")
    def _distinct_fields(self) -> IdeationConfig:
        posts.check_unique_names(self.extra_fields)
        return self


# -- state ----------------------------------------------------------------------------------
@dataclass
class IdeationState(Board):
    """The board, and the inputs an idea may answer (empty: ideas are not framed)."""

    frames: dict[str, Item] = field(default_factory=dict)


class Ideation(Activity):
    slug = "ideation"
    name = N_("Ideas")
    Config = IdeationConfig
    config: IdeationConfig
    actions = posts.ACTIONS

    def initial_state(self, inputs: list[Item]) -> IdeationState:
        framed = self.config.framed == "auto"
        return IdeationState(frames={i.id: i for i in inputs} if framed else {})

    @property
    def by_table(self) -> bool:
        return self.config.sheet == "table"

    @property
    def rules(self) -> PostRules:
        return TABLE_RULES if self.by_table else RULES

    # -- handle -----------------------------------------------------------------------------
    def handle(self, state: IdeationState, action: Action, actor: Actor) -> list[Event]:
        if action.name in posts.MODERATION:
            return [self.rules.moderate(state, action)]
        self.rules.check_open(state)
        owner = self._owner(actor)
        if action.name == "post":
            texts = self._texts(state, action.data, editing=False)
            return [self.rules.post(state, actor, owner, texts, self._cap())]
        idea = self.rules.own(state, action.data, owner)
        if action.name == "withdraw":
            return [self.rules.withdraw(idea)]
        return [self.rules.edit(idea, self._texts(state, action.data, editing=True))]

    def _owner(self, actor: Actor) -> str:
        if not self.by_table:
            return actor.key
        if actor.table is None:
            raise Rejection(
                "no_table", N_("You are not seated at a table yet: ask the facilitator.")
            )
        return posts.table_owner(actor.table)

    def _cap(self) -> int:
        c = self.config
        return c.max_ideas_per_table if self.by_table else c.max_ideas_per_participant

    def _texts(self, state: IdeationState, data: Any, editing: bool) -> dict[str, Any]:
        c = self.config
        texts = posts.clean_texts(data, Limits(c.max_title, c.max_description, c.extra_fields))
        if not state.frames or (editing and data.get("frame") is None):
            return texts  # unframed, or an edit that keeps its frame
        frame = data.get("frame")
        if frame in (None, ""):
            raise Rejection("no_frame", N_("Choose what your idea answers."), field="frame")
        if not isinstance(frame, str) or frame not in state.frames:
            raise Rejection(
                "unknown_frame", N_("This choice is not on the list any more."), field="frame"
            )
        return texts | {"frame": frame}

    # -- reduce -----------------------------------------------------------------------------
    def reduce(self, state: IdeationState, event: Event) -> IdeationState:
        self.rules.reduce(state, event)
        return state

    def affected_participants(self, state: IdeationState, event: Event) -> Any:
        return self.rules.affected(state, event, self.roster)

    # -- views ------------------------------------------------------------------------------
    def view(self, state: IdeationState, audience: str) -> dict[str, Any]:
        visible = state.visible()
        base = self._base(state) | {"count": len(visible)}
        if audience == "facilitator":
            ideas = [i for i in state.posts.values() if not i.withdrawn]
            rows = [self._row(state, i, moderated=True) for i in posts.newest(ideas)]
            return base | {"ideas": rows, "targets": visible}
        if audience == "screen":
            return base | {"ideas": [self._row(state, i) for i in self._on_screen(visible)]}
        return base | {"ideas": [self._row(state, i) for i in posts.newest(visible)]}

    def _on_screen(self, visible: list[Post]) -> list[Post]:
        if not self.by_table:
            return posts.newest(visible, SCREEN_CARDS)
        shown = posts.newest(visible, SCREEN_SHEETS)
        return sorted(shown, key=lambda i: (i.table or 0, visible.index(i)))

    def personal_view(self, state: IdeationState, me: Actor) -> dict[str, Any]:
        seated = not self.by_table or me.table is not None
        mine = state.owned_by(self._owner(me)) if seated else []
        left = self._cap() - len(mine)
        return self._base(state) | {
            "mine": [self._row(state, i, moderated=True) for i in posts.newest(mine)],
            "left": left,
            "seated": seated,
            "table": me.table,
            "can_post": state.open and seated and left > 0,
        }

    def _base(self, state: IdeationState) -> dict[str, Any]:
        return {
            "prompt": self.config.prompt,
            "open": state.open,
            "fields": self.config.extra_fields,
            "config": self.config,
            "by_table": self.by_table,
            "frames": list(state.frames.values()),
        }

    def _row(self, state: IdeationState, idea: Post, moderated: bool = False) -> dict[str, Any]:
        row = posts.moderated(state, idea) if moderated else posts.public(state, idea)
        labelled = [
            (f.label, idea.extra[f.name])
            for f in self.config.extra_fields
            if idea.extra.get(f.name)
        ]
        return row | {
            "frame": _frame_title(state, idea.group),
            "sheet_table": idea.table if self.by_table else None,
            "fields": labelled,
            "merged_from": idea.merged_from,
        }

    # -- outputs ----------------------------------------------------------------------------
    def outputs(self, state: IdeationState) -> list[Item]:
        return [self._item(state, i) for i in state.visible()]

    def _item(self, state: IdeationState, idea: Post) -> Item:
        frame = state.frames.get(idea.group)
        extra: dict[str, Any] = {"kind": self.config.output_kind}
        if frame is not None:
            extra |= {"group": frame.title, "origin": [frame]}
        if self.by_table and idea.table is not None:
            extra["table"] = idea.table
        return posts.item(state, idea, **extra)

    def export(self, state: IdeationState) -> dict[str, Any]:
        return {
            "fields": [f.model_dump() for f in self.config.extra_fields],
            "ideas": [
                row | {"frame": _frame_title(state, row["group"])}
                for row in posts.export_rows(state)
            ],
            "outputs": [item.model_dump() for item in self.outputs(state)],
        }


def _frame_title(state: IdeationState, frame_id: str) -> str:
    frame = state.frames.get(frame_id)
    return frame.title if frame else ""
