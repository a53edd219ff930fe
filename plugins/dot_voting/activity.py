"""The dot-voting activity: a budget of dots per participant, a cap per item, ranked bars."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from palabre.engine import N_, Action, Activity, ActivityConfig, Actor, Event, Item, Rejection

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
    ballots: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))
    tally: dict[str, int] = field(default_factory=dict)

    def spent(self, participant_id: str) -> int:
        return sum(self.ballots.get(participant_id, {}).values())

    def ranking(self) -> list[tuple[Item, int]]:
        order = {item_id: n for n, item_id in enumerate(self.items)}
        ranked = sorted(self.items.values(), key=lambda i: (-self.tally.get(i.id, 0), order[i.id]))
        return [(item, self.tally.get(item.id, 0)) for item in ranked]


class DotVoting(Activity):
    slug = "dot_voting"
    name = N_("Dot-voting")
    Config = DotVotingConfig
    config: DotVotingConfig
    actions = {"vote": P, "unvote": P, "close": F, "reopen": F, "reveal": F, "hide_results": F}

    def initial_state(self, inputs: list[Item]) -> DotVotingState:
        items = inputs or [Item(**s.model_dump()) for s in self.config.items]
        return DotVotingState(
            items={i.id: i for i in items}, revealed=self.config.results == "live"
        )

    # -- handle -----------------------------------------------------------------------------
    def handle(self, state: DotVotingState, action: Action, actor: Actor) -> list[Event]:
        if action.name in ("vote", "unvote"):
            item_id = action.data.get("item")
            if not isinstance(item_id, str) or item_id not in state.items:
                raise Rejection("unknown_item", N_("This item is not part of the vote."))
            if not state.open:
                raise Rejection("closed", N_("The vote is closed."))
            mine = state.ballots.get(actor.key, {}).get(item_id, 0)
            if action.name == "vote":
                self._check_budget(state, actor.key, mine)
            elif mine == 0:
                raise Rejection("no_dot_here", N_("You have no dot on this item."))
            return [Event(f"dot_voting.{action.name}d", {"item": item_id})]
        return [Event(_FACILITATOR_EVENTS[action.name])]

    def _check_budget(self, state: DotVotingState, participant_id: str, mine: int) -> None:
        if state.spent(participant_id) >= self.config.dots:
            raise Rejection("no_dots_left", N_("You have no dots left. Remove one to move it."))
        if mine >= self.config.max_per_item:
            raise Rejection(
                "item_full",
                N_("This item already has the most dots allowed ({limit})."),
                limit=self.config.max_per_item,
            )

    # -- reduce -----------------------------------------------------------------------------
    def reduce(self, state: DotVotingState, event: Event) -> DotVotingState:
        kind = event.kind.removeprefix("dot_voting.")
        if kind in ("voted", "unvoted"):
            step = 1 if kind == "voted" else -1
            item_id = event.data["item"]
            ballot = state.ballots[event.actor]
            ballot[item_id] = ballot.get(item_id, 0) + step
            state.tally[item_id] = state.tally.get(item_id, 0) + step
        elif kind in ("closed", "reopened"):
            state.open = kind == "reopened"
        elif kind in ("revealed", "results_hidden"):
            state.revealed = kind == "revealed"
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
            "voters": sum(1 for b in state.ballots.values() if any(b.values())),
            "dots_spent": sum(state.tally.values()),
            "config": self.config,
        }

    def personal_view(self, state: DotVotingState, me: Actor) -> dict[str, Any]:
        ballot = state.ballots.get(me.key, {})
        left = self.config.dots - sum(ballot.values())
        return {
            "open": state.open,
            "left": left,
            "spent": self.config.dots - left,
            "entries": [(item, ballot.get(item.id, 0)) for item in state.items.values()],
            "config": self.config,
        }

    # -- outputs ----------------------------------------------------------------------------
    def outputs(self, state: DotVotingState) -> list[Item]:
        return [item.model_copy(update={"score": float(n)}) for item, n in state.ranking()]

    def export(self, state: DotVotingState) -> dict[str, Any]:
        return {
            "dots_per_participant": self.config.dots,
            "voters": sum(1 for b in state.ballots.values() if any(b.values())),
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
