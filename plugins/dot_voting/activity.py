"""The dot-voting activity: a budget of dots per participant, a cap per item, ranked bars."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from palabre.engine import N_, Action, Activity, ActivityConfig, Actor, Event, Item
from palabre.plugins.common.dots import DotRules, Dots

P, F = frozenset({"participant"}), frozenset({"facilitator"})


# -- config ---------------------------------------------------------------------------------
class ItemSetting(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,40}$")
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=1000)


class DotVotingConfig(ActivityConfig):
    dots: int = Field(default=5, ge=1, le=100)
    max_per_item: int = Field(default=3, ge=1, le=100)
    results: Literal["live", "on_reveal"] = "on_reveal"
    items: list[ItemSetting] = Field(default_factory=list, max_length=200)
    # 0: every item goes on to the next step, ranked; K: only the K with the most dots
    # (a shortlist, e.g. 7 challenges out of 12).
    retain: int = Field(default=0, ge=0, le=200)

    @model_validator(mode="after")
    def _cap_within_budget(self) -> DotVotingConfig:
        if self.max_per_item > self.dots:
            raise ValueError("max_per_item cannot be larger than dots")
        return self


# -- state ----------------------------------------------------------------------------------
@dataclass
class DotVotingState:
    items: dict[str, Item]
    revealed: bool
    open: bool = True
    dots: Dots = field(default_factory=Dots)

    def ranking(self) -> list[tuple[Item, int]]:
        rows = self.dots.ranking(list(self.items.values()), key=lambda i: i.id)
        return [(row.item, int(row.score)) for row in rows]


class DotVoting(Activity):
    slug = "dot_voting"
    name = N_("Dot-voting")
    Config = DotVotingConfig
    config: DotVotingConfig
    actions = {
        "vote": P,
        "unvote": P,
        "close": F,
        "reopen": F,
        "reveal": F,
        "hide_results": F,
        "reset": F,
    }

    def initial_state(self, inputs: list[Item]) -> DotVotingState:
        items = inputs or [Item(**s.model_dump()) for s in self.config.items]
        return DotVotingState(
            items={i.id: i for i in items}, revealed=self.config.results == "live"
        )

    # -- handle -----------------------------------------------------------------------------
    def handle(self, state: DotVotingState, action: Action, actor: Actor) -> list[Event]:
        if action.name in ("vote", "unvote"):
            # The shared ballot checks item, openness, budget and cap (common/dots.py).
            item_id = state.dots.check(
                self.rules,
                actor.key,
                action.data.get("item"),
                add=action.name == "vote",
                items=dict.fromkeys(state.items, ""),
                is_open=state.open,
            )
            return [Event(f"dot_voting.{action.name}d", {"item": item_id})]
        if action.name == "reset":
            # An empty ballot box has nothing to clear: accepted, with no event (as the
            # protocol does for every action that changes nothing).
            if not state.dots.total():
                return []
            cleared = {"dots": state.dots.total(), "voters": state.dots.voters()}
            return [Event("dot_voting.reset", cleared)]
        return [Event(_FACILITATOR_EVENTS[action.name])]

    @property
    def rules(self) -> DotRules:
        return DotRules(self.config.dots, self.config.max_per_item)

    # -- reduce -----------------------------------------------------------------------------
    def reduce(self, state: DotVotingState, event: Event) -> DotVotingState:
        kind = event.kind.removeprefix("dot_voting.")
        if kind in ("voted", "unvoted"):
            state.dots.record(event.actor, event.data["item"], 1 if kind == "voted" else -1)
        elif kind in ("closed", "reopened"):
            state.open = kind == "reopened"
        elif kind in ("revealed", "results_hidden"):
            state.revealed = kind == "revealed"
        elif kind == "reset":  # every dot goes back to its owner; open/revealed stay as they are
            state.dots.clear()
        return state

    # -- views ------------------------------------------------------------------------------
    def view(self, state: DotVotingState, audience: str) -> dict[str, Any]:
        ranking = state.ranking()
        top = max((n for _, n in ranking), default=0)
        show = state.revealed or audience == "facilitator"
        return {
            "open": state.open,
            "revealed": state.revealed,
            "show_results": show,
            "ranking": [(i, n, _pct(n, top)) for i, n in ranking] if show else [],
            "entries": list(state.items.values()),
            "voters": state.dots.voters(),
            "dots_spent": state.dots.total(),
            "config": self.config,
        }

    def personal_view(self, state: DotVotingState, me: Actor) -> dict[str, Any]:
        left = state.dots.left(self.rules, me.key)
        return {
            "open": state.open,
            "left": left,
            "spent": self.config.dots - left,
            "entries": [(item, state.dots.held(me.key, item.id)) for item in state.items.values()],
            "config": self.config,
        }

    # -- outputs ----------------------------------------------------------------------------
    def outputs(self, state: DotVotingState) -> list[Item]:
        ranked = [item.model_copy(update={"score": float(n)}) for item, n in state.ranking()]
        return ranked[: self.config.retain] if self.config.retain else ranked

    def export(self, state: DotVotingState) -> dict[str, Any]:
        return {
            "dots_per_participant": self.config.dots,
            "voters": state.dots.voters(),
            "ranking": [{"id": i.id, "title": i.title, "dots": n} for i, n in state.ranking()],
            "outputs": [item.model_dump() for item in self.outputs(state)],
        }


_FACILITATOR_EVENTS = {
    "close": "dot_voting.closed",
    "reopen": "dot_voting.reopened",
    "reveal": "dot_voting.revealed",
    "hide_results": "dot_voting.results_hidden",
}


def _pct(n: int, top: int) -> int:
    return round(100 * n / top) if top else 0
