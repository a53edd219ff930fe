"""Ranked team assignment: everyone placed exactly once, team sizes within bounds whenever
the numbers allow it, and as many first choices as possible (then second choices, …).

Pure and deterministic: no clock, no randomness. The same items, people (in join order) and
rankings always give the same teams; when two answers are equally good, the one found by
taking people in join order and items in their given order wins.

How it works, in the order a facilitator would explain it:

1. How many teams: as many items as the room can fill to `min_size` (never more than there
   are items). If there are too few people even for that, the fewest teams that keep every
   team within `max_size`; if there are too many people, every item, and teams over the max
   by as little as possible (none larger than its even share, rounded up).
2. Which items: while there are more items than teams, drop the least wanted one — the item
   that is the first remaining choice of the fewest people (then the fewest points, a choice
   ranked r-th of R being worth R - r + 1; then the one given last). Its fans' next choices
   then count, as in a run-off.
3. Who goes where: a minimum-cost flow. Filling every team to `min_size` comes first, then
   keeping within `max_size`; within that, satisfaction is maximised lexicographically (most
   first choices, then most second choices, …); and among equally satisfying answers, the
   most even sizes; and then, between people on equal terms, the earlier joiner gets the
   better rank. People who ranked nothing cost nothing anywhere, so evening the sizes
   places them in the least-full teams.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

UNRANKED = "unranked"  # satisfaction key: the person ranked nothing
OTHER = "other"  # satisfaction key: none of the person's choices could be kept for them


@dataclass(frozen=True)
class Assignment:
    """`teams` maps each kept item to its members (join order), in the items' order;
    `satisfaction` counts people by the rank of the item they got ("1", "2", …, "other",
    "unranked")."""

    teams: dict[str, list[str]]
    dropped: list[str] = field(default_factory=list)
    satisfaction: dict[str, int] = field(default_factory=dict)


def assign(
    items: Sequence[str],
    people: Sequence[tuple[str, Sequence[str]]],
    *,
    min_size: int,
    max_size: int,
    keep_all_items: bool = False,
) -> Assignment:
    """Place `people` (participant id, ranked item ids, in join order) in teams, one per kept
    item. Choices naming no item in `items` are ignored."""
    known = set(items)
    rankings = [(pid, [i for i in dict.fromkeys(ranked) if i in known]) for pid, ranked in people]
    if not items or not rankings:
        return Assignment({}, [], {})
    count = (
        len(items) if keep_all_items else team_count(len(rankings), len(items), min_size, max_size)
    )
    kept, dropped = drop_least_wanted(list(items), [r for _, r in rankings], count)
    placed = _flow(kept, rankings, min_size, max_size)
    teams = {item: [pid for pid, _ in rankings if placed[pid] == item] for item in kept}
    return Assignment(teams, dropped, _satisfaction(rankings, placed))


def team_count(people: int, items: int, min_size: int, max_size: int) -> int:
    """How many teams `people` make with `items` to choose from (see the module's step 1)."""
    count = min(items, people // min_size)
    if count >= 1 and count * max_size >= people:
        return count
    if count == items:  # more people than every item can seat: teams go over the max
        return items
    return max(1, min(items, math.ceil(people / max_size)))


def drop_least_wanted(
    items: list[str], rankings: Sequence[list[str]], count: int
) -> tuple[list[str], list[str]]:
    """The `count` items kept (in their given order) and the items dropped, first dropped
    first (see the module's step 2)."""
    kept, dropped = list(items), []
    position = {item: n for n, item in enumerate(items)}
    while len(kept) > max(count, 0):
        still = set(kept)
        firsts = dict.fromkeys(kept, 0)
        points = dict.fromkeys(kept, 0)
        for ranking in rankings:
            remaining = [i for i in ranking if i in still]
            if remaining:
                firsts[remaining[0]] += 1
            for r, item in enumerate(remaining):
                points[item] += len(remaining) - r
        victim = min(kept, key=lambda i: (firsts[i], points[i], -position[i]))
        kept.remove(victim)
        dropped.append(victim)
    return kept, dropped


def _satisfaction(
    rankings: Sequence[tuple[str, list[str]]], placed: dict[str, str]
) -> dict[str, int]:
    counts: dict[str, int] = {}
    for pid, ranking in rankings:
        item = placed[pid]
        key = (
            UNRANKED if not ranking else str(ranking.index(item) + 1) if item in ranking else OTHER
        )
        counts[key] = counts.get(key, 0) + 1
    return counts


# -- the flow -------------------------------------------------------------------------------
def _flow(
    kept: list[str], rankings: Sequence[tuple[str, list[str]]], min_size: int, max_size: int
) -> dict[str, str]:
    """participant id -> kept item, by a minimum-cost flow whose costs are tiers: one unit of
    a higher tier outweighs every possible total of the tiers below it."""
    n = len(rankings)
    depth = max((len(r) for _, r in rankings), default=0) or 1
    slots = max(max_size, math.ceil(n / len(kept)))  # the most a team can need
    # Four tiers, each unit outweighing any total of the tiers below it: sizes within
    # bounds, then satisfaction, then even sizes, then earlier joiners first on equal terms.
    tie = n * (depth + 1) * n + 1  # > any total of the join-order costs
    even = (n * slots + 1) * tie  # > any total of the evening and join-order costs
    base = n + 1  # > the number of people at any rank: one better rank beats all below
    pref = [even * (base**depth - base ** (depth - r)) for r in range(depth + 1)]
    bound = n * pref[depth] + even  # > any total of the three tiers below

    graph = _Graph(3 + len(kept) + n)
    source, sink, hub = 0, 1, 2
    item_node = {item: 3 + k for k, item in enumerate(kept)}
    first_person = 3 + len(kept)
    for k, (_, ranking) in enumerate(rankings):
        person = first_person + k
        seniority = n - k  # a worse rank costs an earlier joiner a little more
        graph.add(source, person, 1, 0)
        for r, item in enumerate(ranking):
            if item in item_node:
                graph.add(person, item_node[item], 1, pref[r] + r * seniority)
        # Anywhere else: the worst outcome for someone who ranked, nothing for someone who didn't.
        graph.add(person, hub, 1, pref[depth] + depth * seniority if ranking else 0)
    for node in item_node.values():
        graph.add(hub, node, n, 0)
        for s in range(1, slots + 1):
            tier = (bound if s > min_size else 0) + (bound if s > max_size else 0)
            graph.add(node, sink, 1, tier + s * tie)
    graph.min_cost_flow(source, sink, n)
    return _read_placement(graph, kept, rankings, item_node, first_person, hub)


def _read_placement(
    graph: _Graph,
    kept: list[str],
    rankings: Sequence[tuple[str, list[str]]],
    item_node: dict[str, int],
    first_person: int,
    hub: int,
) -> dict[str, str]:
    node_item = {node: item for item, node in item_node.items()}
    placed: dict[str, str] = {}
    via_hub: list[str] = []
    for k, (pid, _) in enumerate(rankings):
        for arc in graph.used(first_person + k):
            if arc in node_item:
                placed[pid] = node_item[arc]
            elif arc == hub:
                via_hub.append(pid)
    # Whoever went through the hub could go to any of its items at the same cost: hand the
    # hub's places out in join order and item order.
    places = [item for item in kept for _ in range(graph.flow_on(hub, item_node[item]))]
    placed.update(zip(via_hub, places, strict=True))
    return placed


class _Graph:
    """A residual graph for successive shortest paths (Dijkstra with potentials; every
    starting cost is non-negative, so potentials start at zero)."""

    def __init__(self, size: int) -> None:
        self.arcs: list[list[list[int]]] = [[] for _ in range(size)]  # [to, cap, cost, rev, flow]

    def add(self, a: int, b: int, cap: int, cost: int) -> None:
        self.arcs[a].append([b, cap, cost, len(self.arcs[b]), 0])
        self.arcs[b].append([a, 0, -cost, len(self.arcs[a]) - 1, 0])

    def used(self, a: int) -> list[int]:
        return [arc[0] for arc in self.arcs[a] if arc[4] > 0]

    def flow_on(self, a: int, b: int) -> int:
        return sum(arc[4] for arc in self.arcs[a] if arc[0] == b and arc[4] > 0)

    def min_cost_flow(self, source: int, sink: int, amount: int) -> None:
        size = len(self.arcs)
        potential = [0] * size
        for _ in range(amount):
            dist, back = self._shortest(source, potential)
            if dist[sink] is None:
                raise ValueError("not everyone can be placed")  # cannot happen: the hub takes all
            for v in range(size):
                d = dist[v]
                if d is not None:
                    potential[v] += d
            v = sink
            while v != source:
                u, index = back[v]
                arc = self.arcs[u][index]
                arc[1] -= 1
                arc[4] += 1
                reverse = self.arcs[v][arc[3]]
                reverse[1] += 1
                reverse[4] -= 1
                v = u

    def _shortest(
        self, source: int, potential: list[int]
    ) -> tuple[list[int | None], list[tuple[int, int]]]:
        size = len(self.arcs)
        dist: list[int | None] = [None] * size
        back: list[tuple[int, int]] = [(0, 0)] * size
        dist[source] = 0
        queue = [(0, source)]
        while queue:
            d, u = heapq.heappop(queue)
            if d != dist[u]:
                continue
            for index, (v, cap, cost, _, _) in enumerate(self.arcs[u]):
                if cap <= 0:
                    continue
                nd = d + cost + potential[u] - potential[v]
                known = dist[v]
                if known is None or nd < known:
                    dist[v] = nd
                    back[v] = (u, index)
                    heapq.heappush(queue, (nd, v))
        return dist, back
