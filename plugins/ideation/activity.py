"""The ideation activity: post, edit, withdraw; the facilitator hides and merges."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from palabre.engine import (
    N_,
    Action,
    Activity,
    ActivityConfig,
    Actor,
    Event,
    Item,
    Rejection,
    clean_text,
    duplicate_key,
)

P, F = frozenset({"participant"}), frozenset({"facilitator"})
SCREEN_CARDS = 12  # the newest ideas the projector shows; the count says how many in all
_PAST = {
    "close": "ideation.closed",
    "reopen": "ideation.reopened",
    "hide": "ideation.hidden",
    "unhide": "ideation.unhidden",
}


# -- config ---------------------------------------------------------------------------------
class ExtraField(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,30}$")
    label: str = Field(min_length=1, max_length=80)
    max_length: int = Field(default=120, ge=1, le=1000)
    required: bool = False


class IdeationConfig(ActivityConfig):
    prompt: str = Field(default="", max_length=200)
    max_title: int = Field(default=80, ge=10, le=200)
    max_description: int = Field(default=280, ge=0, le=2000)
    max_ideas_per_participant: int = Field(default=10, ge=1, le=100)
    extra_fields: list[ExtraField] = Field(default_factory=list, max_length=5)


# -- state ----------------------------------------------------------------------------------
@dataclass
class Idea:
    id: str
    title: str
    description: str
    extra: dict[str, str]
    author: str
    hidden: bool = False
    withdrawn: bool = False
    merged_into: str | None = None
    merged_from: list[str] = field(default_factory=list)

    @property
    def visible(self) -> bool:
        return not (self.hidden or self.withdrawn or self.merged_into)


@dataclass
class IdeationState:
    ideas: dict[str, Idea] = field(default_factory=dict)
    open: bool = True

    def visible(self) -> list[Idea]:
        return [idea for idea in self.ideas.values() if idea.visible]

    def of(self, participant_id: str) -> list[Idea]:
        return [i for i in self.ideas.values() if i.author == participant_id and not i.withdrawn]


class Ideation(Activity):
    slug = "ideation"
    name = N_("Ideas")
    Config = IdeationConfig
    config: IdeationConfig
    actions = {
        "post": P,
        "edit": P,
        "withdraw": P,
        "hide": F,
        "unhide": F,
        "merge": F,
        "close": F,
        "reopen": F,
    }

    def initial_state(self, inputs: list[Item]) -> IdeationState:
        return IdeationState()

    # -- handle -----------------------------------------------------------------------------
    def handle(self, state: IdeationState, action: Action, actor: Actor) -> list[Event]:
        data = action.data
        if action.name in ("post", "edit", "withdraw") and not state.open:
            raise Rejection("closed", N_("Ideas are closed for now."))
        if action.name == "post":
            return [self._post(state, data, actor)]
        if action.name in ("edit", "withdraw"):
            idea = self._own_idea(state, data, actor)
            if action.name == "withdraw":
                return [Event("ideation.withdrawn", {"idea": idea.id})]
            return [Event("ideation.edited", {"idea": idea.id, **self._texts(data)})]
        if action.name in ("close", "reopen"):
            return [Event(_PAST[action.name])]
        idea = _find(state, data.get("idea"))
        if action.name == "merge":
            target = _find(state, data.get("into"))
            if target.id == idea.id or not target.visible or not idea.visible:
                raise Rejection("bad_merge", N_("Pick two different visible ideas to merge."))
            return [Event("ideation.merged", {"idea": idea.id, "into": target.id})]
        return [Event(_PAST[action.name], {"idea": idea.id})]

    def _post(self, state: IdeationState, data: Any, actor: Actor) -> Event:
        texts = self._texts(data)
        mine = state.of(actor.key)
        if len(mine) >= self.config.max_ideas_per_participant:
            raise Rejection(
                "too_many",
                N_("You have reached the most ideas allowed ({limit})."),
                limit=self.config.max_ideas_per_participant,
            )
        key = duplicate_key(texts["title"])
        if any(duplicate_key(i.title) == key for i in mine):
            raise Rejection("duplicate", N_("You already posted this idea."), field="title")
        return Event("ideation.posted", {"idea": secrets.token_hex(6), **texts})

    def _texts(self, data: Any) -> dict[str, Any]:
        c = self.config
        extra = {
            f.name: clean_text(
                data.get(f.name), field=f.name, max_graphemes=f.max_length, required=f.required
            )
            for f in c.extra_fields
        }
        return {
            "title": clean_text(data.get("title"), field="title", max_graphemes=c.max_title),
            "description": clean_text(
                data.get("description"),
                field="description",
                max_graphemes=max(c.max_description, 1),
                required=False,
                multiline=True,
            )
            if c.max_description
            else "",
            "extra": extra,
        }

    def _own_idea(self, state: IdeationState, data: Any, actor: Actor) -> Idea:
        idea = _find(state, data.get("idea"))
        if idea.author != actor.key or idea.withdrawn:
            raise Rejection("not_yours", N_("You can only change your own ideas."))
        if idea.merged_into:
            raise Rejection("merged", N_("This idea was merged with another one."))
        return idea

    # -- reduce -----------------------------------------------------------------------------
    def reduce(self, state: IdeationState, event: Event) -> IdeationState:
        d = event.data
        kind = event.kind.removeprefix("ideation.")
        if kind == "posted":
            state.ideas[d["idea"]] = Idea(
                d["idea"], d["title"], d["description"], d.get("extra", {}), event.actor
            )
        elif kind == "edited":
            idea = state.ideas[d["idea"]]
            idea.title, idea.description = d["title"], d["description"]
            idea.extra = d.get("extra", {})
        elif kind == "withdrawn":
            state.ideas[d["idea"]].withdrawn = True
        elif kind in ("hidden", "unhidden"):
            state.ideas[d["idea"]].hidden = kind == "hidden"
        elif kind == "merged":
            state.ideas[d["idea"]].merged_into = d["into"]
            state.ideas[d["into"]].merged_from.append(d["idea"])
        elif kind in ("closed", "reopened"):
            state.open = kind == "reopened"
        return state

    def affected_participants(self, state: IdeationState, event: Event) -> Any:
        idea_id = event.data.get("idea")
        if event.kind in ("ideation.closed", "ideation.reopened"):
            return super().affected_participants(state, event)
        authors = {
            state.ideas[i].author for i in (idea_id, event.data.get("into")) if i in state.ideas
        }
        return authors | {event.actor}

    # -- views ------------------------------------------------------------------------------
    def view(self, state: IdeationState, audience: str) -> dict[str, Any]:
        visible = state.visible()
        base = {
            "prompt": self.config.prompt,
            "open": state.open,
            "count": len(visible),
            "fields": self.config.extra_fields,
            "config": self.config,
        }
        if audience == "facilitator":
            ideas = [i for i in state.ideas.values() if not i.withdrawn]
            return base | {"ideas": list(reversed(ideas)), "targets": visible}
        if audience == "screen":
            return base | {"ideas": [_public(i) for i in reversed(visible[-SCREEN_CARDS:])]}
        return base | {"ideas": [_public(i) for i in reversed(visible)]}

    def personal_view(self, state: IdeationState, me: Actor) -> dict[str, Any]:
        mine = list(reversed(state.of(me.key)))
        return {
            "mine": mine,
            "open": state.open,
            "config": self.config,
            "left": self.config.max_ideas_per_participant - len(mine),
        }

    # -- outputs ----------------------------------------------------------------------------
    def outputs(self, state: IdeationState) -> list[Item]:
        return [
            Item(
                id=i.id,
                title=i.title,
                description=i.description,
                merged=len(i.merged_from),
                **i.extra,
            )
            for i in state.visible()
        ]

    def export(self, state: IdeationState) -> dict[str, Any]:
        return {
            "ideas": [
                _public(i)
                | {"hidden": i.hidden, "withdrawn": i.withdrawn, "merged_into": i.merged_into}
                for i in state.ideas.values()
            ],
            "outputs": [item.model_dump() for item in self.outputs(state)],
        }


def _find(state: IdeationState, idea_id: Any) -> Idea:
    idea = state.ideas.get(idea_id) if isinstance(idea_id, str) else None
    if idea is None:
        raise Rejection("unknown_idea", N_("This idea does not exist (any more)."))
    return idea


def _public(idea: Idea) -> dict[str, Any]:
    """An idea as others may see it: never its author."""
    return {
        "id": idea.id,
        "title": idea.title,
        "description": idea.description,
        "extra": idea.extra,
        "merged": len(idea.merged_from),
    }
