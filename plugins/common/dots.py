"""A dot ballot that several activities share: each participant spends a budget of dots on
items, at most a few on any one item, and may take a dot back to move it.

Used by dot_voting, by axes (the vote that retains axes) and by the jury's audience vote.
An activity keeps one `Dots` in its state and touches it in two places (three with a reset)::

    # initial_state
    state.dots = Dots()
    # handle: check only (raises Rejection), then return the activity's own event
    item = state.dots.check(rules, actor.key, action.data.get("item"), add=True,
                            items={i.id: i.group for i in state.items}, is_open=state.open)
    return [Event("myslug.voted", {"item": item})]
    # reduce: record the dot
    state.dots.record(event.actor, event.data["item"], +1)
    # reduce, on a facilitator's reset (an event of the activity's own): every dot back
    state.dots.clear()

Why the split holds under concurrency: the engine runs `handle` and the `reduce` of its
events with no `await` in between, so a participant with 5 dots never spends a 6th however
many sockets they open. Keep the check in `handle` and the change in `reduce`.

Budgets: `DotRules.dots` per participant overall, `max_per_item` on any one item, and an
optional `per_group` budget: at most that many dots on the items of each group (a theme, say),
where `items` maps each item id to its group label ("" for none).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from palabre.engine import N_, Rejection

from .ranking import Ranked, rank

T = TypeVar("T")


@dataclass(frozen=True)
class DotRules:
    """How many dots each participant has (`dots`), the most on one item (`max_per_item`),
    and, if `per_group` > 0, the most on the items of any one group."""

    dots: int
    max_per_item: int
    per_group: int = 0


@dataclass
class Dots:
    """Everyone's dots in one vote: `ballots[voter][item]` and the `tally` per item.
    `backers` (people with a dot on each item) and `voter_count` are kept as dots move:
    views read them on every update, and counting 10,000 ballots each time would not do."""

    ballots: dict[str, dict[str, int]] = field(default_factory=dict)
    tally: dict[str, int] = field(default_factory=dict)
    backers: dict[str, int] = field(default_factory=dict)
    voter_count: int = 0

    # -- reading ----------------------------------------------------------------------------
    def held(self, voter: str, item: str) -> int:
        """Dots `voter` has on `item`."""
        return self.ballots.get(voter, {}).get(item, 0)

    def spent(
        self, voter: str, group: str | None = None, items: Mapping[str, str] | None = None
    ) -> int:
        """Dots `voter` has placed: all of them, or only on the items of `group`."""
        ballot = self.ballots.get(voter, {})
        if group is None:
            return sum(ballot.values())
        groups = items or {}
        return sum(n for item, n in ballot.items() if groups.get(item, "") == group)

    def left(
        self,
        rules: DotRules,
        voter: str,
        group: str | None = None,
        items: Mapping[str, str] | None = None,
    ) -> int:
        """Dots `voter` can still place: overall, or on the items of `group` (the smaller of
        what is left overall and what is left in that group)."""
        overall = rules.dots - self.spent(voter)
        if group is None or not rules.per_group:
            return overall
        return min(overall, rules.per_group - self.spent(voter, group, items))

    def score(self, item: str) -> int:
        return self.tally.get(item, 0)

    def supporters(self, item: str) -> int:
        """How many people have at least one dot on `item` (a fair tie-breaker)."""
        return self.backers.get(item, 0)

    def voters(self) -> int:
        """How many people have at least one dot somewhere."""
        return self.voter_count

    def total(self) -> int:
        return sum(self.tally.values())

    def ranking(
        self,
        items: Sequence[T],
        key: Callable[[T], str],
        tie_breakers: Sequence[tuple[str, Callable[[T], float]]] = (),
    ) -> list[Ranked[T]]:
        """Most dots first; ties kept together and explained (see `common.ranking.rank`)."""
        return rank(items, lambda i: float(self.score(key(i))), tie_breakers)

    # -- handle: check, never change ---------------------------------------------------------
    def check(
        self,
        rules: DotRules,
        voter: str,
        item: Any,
        *,
        add: bool,
        items: Mapping[str, str],
        is_open: bool = True,
    ) -> str:
        """Check that `voter` may add (`add=True`) or take back a dot on `item`; return the
        item id. `items` maps every item open to the vote to its group ("" if none).

        Rejections, in the order they are checked: `unknown_item`, `closed`, then for adding
        `no_dots_left`, `no_dots_left_in_group`, `item_full`; for taking back `no_dot_here`.
        """
        if not isinstance(item, str) or item not in items:
            raise Rejection("unknown_item", N_("This item is not part of the vote."))
        if not is_open:
            raise Rejection("closed", N_("The vote is closed."))
        mine = self.held(voter, item)
        if not add:
            if mine <= 0:
                raise Rejection("no_dot_here", N_("You have no dot on this item."))
            return item
        if self.spent(voter) >= rules.dots:
            raise Rejection("no_dots_left", N_("You have no dots left. Remove one to move it."))
        group = items[item]
        if rules.per_group and self.spent(voter, group, items) >= rules.per_group:
            raise _group_full(group, rules.per_group)
        if mine >= rules.max_per_item:
            raise Rejection(
                "item_full",
                N_("This item already has the most dots allowed ({limit})."),
                limit=rules.max_per_item,
            )
        return item

    # -- reduce: record -------------------------------------------------------------------------
    def record(self, voter: str, item: str, delta: int) -> None:
        """Add (`+1`) or take back (`-1`) one of `voter`'s dots on `item`."""
        ballot = self.ballots.setdefault(voter, {})
        had_any = any(ballot.values())
        before = ballot.get(item, 0)
        ballot[item] = before + delta
        self.tally[item] = self.tally.get(item, 0) + delta
        if (before > 0) != (ballot[item] > 0):
            self.backers[item] = self.backers.get(item, 0) + (1 if ballot[item] > 0 else -1)
        if had_any != any(ballot.values()):
            self.voter_count += -1 if had_any else 1

    def clear(self) -> None:
        """Give every dot back to its owner (a facilitator's reset of the vote)."""
        self.ballots.clear()
        self.tally.clear()
        self.backers.clear()
        self.voter_count = 0


def _group_full(group: str, limit: int) -> Rejection:
    if not group:  # items outside any group share one budget too; there is no name to say
        message = N_("You have placed all the dots allowed here ({limit}). Remove one to move it.")
    else:
        message = N_(
            "You have placed all your dots for “{group}” ({limit}). Remove one to move it."
        )
    return Rejection("no_dots_left_in_group", message, group=group, limit=limit)
