"""The diagnosis activity: participants (or only table captains) post the problems they see,
each under one of the kit's themes; the facilitator hides and merges duplicates.

Its outputs are the day's raw material: the problems that later steps cluster into axes.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

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
from palabre.plugins.common.posts import Board, Limits, Post, PostRules, Wording

RULES = PostRules(
    "diagnosis",
    "problem",
    "unknown_problem",
    Wording(
        closed=N_("The diagnosis is closed for now."),
        too_many=N_("You have reached the most problems allowed ({limit})."),
        duplicate=N_("You already posted this problem."),
        not_yours=N_("You can only change your own problems."),
        merged=N_("This problem was merged with another one."),
        unknown=N_("This problem does not exist (any more)."),
        bad_merge=N_("Pick two different visible problems to merge."),
        not_merged=N_("This problem is not merged into another one."),
    ),
    group_key="theme",
)


# -- config ---------------------------------------------------------------------------------
class Theme(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    title: str = Field(min_length=1, max_length=80)


class DiagnosisConfig(ActivityConfig):
    themes: list[Theme] = Field(min_length=1, max_length=8)
    # "captains": only table captains post, on behalf of their table (kits with `tables`).
    who: Literal["everyone", "captains"] = "everyone"
    prompt: str = Field(default="", max_length=200)
    max_problems_per_participant: int = Field(default=5, ge=1, le=50)
    max_title: int = Field(default=80, ge=10, le=200)
    max_description: int = Field(default=280, ge=0, le=2000)
    screen_cards_per_theme: int = Field(default=4, ge=1, le=12)

    @field_validator("who")
    @classmethod
    def _captains_sit_at_tables(cls, who: str, info: ValidationInfo) -> str:
        if who == "captains":
            require_tables('who = "captains"', info)
        return who

    @model_validator(mode="after")
    def _distinct_themes(self) -> DiagnosisConfig:
        ids = [t.id for t in self.themes]
        if len(set(ids)) != len(ids):
            raise ValueError("each theme needs its own id")
        return self


class Diagnosis(Activity):
    slug = "diagnosis"
    name = N_("Diagnosis")
    Config = DiagnosisConfig
    config: DiagnosisConfig
    actions = posts.ACTIONS

    def initial_state(self, inputs: list[Item]) -> Board:
        return Board()

    @property
    def themes(self) -> dict[str, str]:
        return {t.id: t.title for t in self.config.themes}

    def may_post(self, actor: Actor) -> bool:
        return self.config.who == "everyone" or actor.captain

    # -- handle -----------------------------------------------------------------------------
    def handle(self, state: Board, action: Action, actor: Actor) -> list[Event]:
        if action.name in posts.MODERATION:
            return [RULES.moderate(state, action)]
        if not self.may_post(actor):
            raise Rejection("captains_only", N_("Only table captains post problems here."))
        RULES.check_open(state)
        if action.name == "post":
            texts = self._texts(action.data, editing=False)
            cap = self.config.max_problems_per_participant
            return [RULES.post(state, actor, actor.key, texts, cap)]
        problem = RULES.own(state, action.data, actor.key)
        if action.name == "withdraw":
            return [RULES.withdraw(problem)]
        return [RULES.edit(problem, self._texts(action.data, editing=True))]

    def _texts(self, data: Any, editing: bool) -> dict[str, Any]:
        c = self.config
        texts = posts.clean_texts(data, Limits(c.max_title, c.max_description))
        theme = data.get("theme")
        if editing and theme is None:
            return texts  # an edit that keeps its theme
        if not isinstance(theme, str) or theme not in self.themes:
            raise Rejection("unknown_theme", N_("Choose one of the themes."), field="theme")
        return texts | {"theme": theme}

    # -- reduce -----------------------------------------------------------------------------
    def reduce(self, state: Board, event: Event) -> Board:
        RULES.reduce(state, event)
        return state

    def affected_participants(self, state: Board, event: Event) -> Any:
        return RULES.affected(state, event, self.roster)

    # -- views ------------------------------------------------------------------------------
    def view(self, state: Board, audience: str) -> dict[str, Any]:
        visible = state.visible()
        base = self._base(state) | {"count": len(visible)}
        if audience == "facilitator":
            listed = [p for p in state.posts.values() if not p.withdrawn]
            return base | {
                "columns": self._columns(state, listed, moderated=True),
                "targets": self._columns(state, visible),
            }
        limit = self.config.screen_cards_per_theme if audience == "screen" else None
        return base | {"columns": self._columns(state, visible, limit=limit)}

    def _columns(
        self,
        state: Board,
        problems: list[Post],
        limit: int | None = None,
        moderated: bool = False,
    ) -> list[dict[str, Any]]:
        """One column per theme: its visible count and its problems, newest first."""
        show = posts.moderated if moderated else posts.public
        columns = []
        for theme in self.config.themes:
            mine = [p for p in problems if p.group == theme.id]
            columns.append(
                {
                    "id": theme.id,
                    "title": theme.title,
                    "count": sum(1 for p in mine if p.visible),
                    "problems": [show(state, p) for p in posts.newest(mine, limit)],
                }
            )
        return columns

    def personal_view(self, state: Board, me: Actor) -> dict[str, Any]:
        mine = state.owned_by(me.key)
        left = self.config.max_problems_per_participant - len(mine)
        allowed = self.may_post(me)
        return self._base(state) | {
            "mine": [
                posts.moderated(state, p) | {"theme": self.themes.get(p.group, "")}
                for p in posts.newest(mine)
            ],
            "left": left,
            "allowed": allowed,
            "can_post": allowed and state.open and left > 0,
        }

    def _base(self, state: Board) -> dict[str, Any]:
        return {
            "prompt": self.config.prompt,
            "open": state.open,
            "config": self.config,
            "themes": self.config.themes,
        }

    # -- outputs ----------------------------------------------------------------------------
    def outputs(self, state: Board) -> list[Item]:
        return [
            posts.item(
                state,
                p,
                kind="problem",
                group=self.themes.get(p.group, ""),
                theme=p.group,
            )
            for p in state.visible()
        ]

    def export(self, state: Board) -> dict[str, Any]:
        return {
            "themes": [
                {"id": t.id, "title": t.title, "count": c["count"]}
                for t, c in zip(
                    self.config.themes, self._columns(state, state.visible()), strict=True
                )
            ],
            "problems": posts.export_rows(state),
            "outputs": [item.model_dump() for item in self.outputs(state)],
        }
