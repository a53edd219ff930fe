"""Ranked team assignment: everyone placed once, sizes within bounds when the numbers allow,
most first choices, least-wanted items dropped, and the same answer every time."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from palabre.plugins.teams.assignment import (
    OTHER,
    UNRANKED,
    Assignment,
    assign,
    drop_least_wanted,
    team_count,
)

People = list[tuple[str, list[str]]]


def sizes(result: Assignment) -> dict[str, int]:
    return {item: len(members) for item, members in result.teams.items()}


def placed(result: Assignment) -> dict[str, str]:
    return {pid: item for item, members in result.teams.items() for pid in members}


def crowd(*groups: tuple[int, list[str]]) -> People:
    """`crowd((3, ["a", "b"]), (2, []))`: 3 people ranking a then b, 2 who ranked nothing."""
    people: People = []
    for count, ranking in groups:
        people += [(f"p{len(people) + n:02d}", list(ranking)) for n in range(count)]
    return people


# -- examples a facilitator would recognise ---------------------------------------------------
def test_everyone_gets_their_first_choice_when_the_teams_have_room() -> None:
    people = crowd((6, ["a", "b"]), (5, ["b", "a"]), (7, ["c", "a"]))
    result = assign(["a", "b", "c"], people, min_size=5, max_size=7)
    assert sizes(result) == {"a": 6, "b": 5, "c": 7}
    assert result.satisfaction == {"1": 18}
    assert result.dropped == []


def test_a_popular_item_stops_at_max_size_and_the_others_fill_the_smaller_teams() -> None:
    people = crowd((10, ["a", "b", "c"]), (4, ["b"]), (4, ["c"]))
    result = assign(["a", "b", "c"], people, min_size=5, max_size=7)
    # "a" is full at 7; of its 3 other fans, one must complete "c" (its 4 fans are too few
    # for a team of 5) even though it is their last choice; the other two go to "b".
    assert sizes(result) == {"a": 7, "b": 6, "c": 5}
    assert result.satisfaction == {"1": 15, "2": 2, "3": 1}


def test_the_least_wanted_item_is_dropped_when_there_are_too_few_people_for_all() -> None:
    # 12 people, 4 challenges, at least 5 a team: only 2 teams. "d" is nobody's first choice,
    # then "c" has the fewest first choices once "d" is gone.
    people = crowd((5, ["a", "c"]), (4, ["b", "d"]), (3, ["c", "d", "a"]))
    result = assign(["a", "b", "c", "d"], people, min_size=5, max_size=7)
    assert result.dropped == ["d", "c"]
    assert sizes(result) == {"a": 7, "b": 5} or sizes(result) == {"a": 6, "b": 6}
    assert set(placed(result)) == {pid for pid, _ in people}


def test_keep_all_items_keeps_every_team_even_below_min_size() -> None:
    people = crowd((5, ["a", "c"]), (4, ["b", "d"]), (3, ["c", "d", "a"]))
    result = assign(["a", "b", "c", "d"], people, min_size=5, max_size=7, keep_all_items=True)
    assert result.dropped == []
    assert list(result.teams) == ["a", "b", "c", "d"]
    assert result.satisfaction == {"1": 12}


def test_people_who_ranked_nothing_fill_the_least_full_teams() -> None:
    people = crowd((7, ["a"]), (5, ["b"]), (6, ["c"]), (3, []))
    result = assign(["a", "b", "c"], people, min_size=5, max_size=7)
    assert sizes(result) == {"a": 7, "b": 7, "c": 7}
    assert result.satisfaction == {"1": 18, UNRANKED: 3}
    unranked = {pid for pid, ranking in people if not ranking}
    assert {placed(result)[pid] for pid in unranked} == {"b", "c"}


def test_more_people_than_seats_go_over_the_max_by_their_even_share_at_most() -> None:
    people = crowd((20, ["a"]), (5, []))
    result = assign(["a", "b", "c"], people, min_size=5, max_size=7)
    assert sorted(sizes(result).values()) == [8, 8, 9]
    assert result.satisfaction["1"] == 9


def test_too_few_people_for_min_size_make_one_team() -> None:
    result = assign(["a", "b"], crowd((2, ["b"]), (1, [])), min_size=5, max_size=7)
    assert result.teams == {"b": ["p00", "p01", "p02"]}
    assert result.dropped == ["a"]


def test_first_choices_come_first_even_if_others_get_their_last_choice() -> None:
    # Two seats in "a" for three people who want it first. Giving "a" to x and y (first
    # choices) and sending z to its 3rd choice beats two people on their 2nd choice.
    people = [("x", ["a", "c", "b"]), ("y", ["a", "b", "c"]), ("z", ["a", "b", "c"])]
    people += [(f"b{n}", ["b"]) for n in range(1)] + [(f"c{n}", ["c"]) for n in range(1)]
    result = assign(["a", "b", "c"], people, min_size=1, max_size=2)
    assert result.satisfaction["1"] == 4
    assert len(result.teams["a"]) == 2


def test_choices_that_name_no_item_are_ignored() -> None:
    result = assign(["a"], [("p", ["zz", "a", "a"])], min_size=1, max_size=3)
    assert result.teams == {"a": ["p"]}
    assert result.satisfaction == {"1": 1}


def test_nobody_or_nothing_gives_no_teams() -> None:
    assert assign([], [("p", [])], min_size=1, max_size=3).teams == {}
    assert assign(["a"], [], min_size=1, max_size=3).teams == {}


def test_on_equal_terms_the_earlier_joiner_gets_the_first_choice() -> None:
    people = crowd((4, ["a", "b"]), (1, ["b"]))
    result = assign(["a", "b"], people, min_size=1, max_size=3)
    assert result.teams == {"a": ["p00", "p01", "p02"], "b": ["p03", "p04"]}


def test_members_are_listed_in_joining_order() -> None:
    people = [("z", ["a"]), ("m", []), ("b", ["a"])]
    assert assign(["a"], people, min_size=1, max_size=7).teams == {"a": ["z", "m", "b"]}


@pytest.mark.parametrize(
    ("people", "items", "expected"),
    [
        (35, 7, 7),  # 5 a team
        (30, 7, 6),  # 7 teams of 5 impossible: drop 1
        (100, 7, 7),  # too many: every item, over the max
        (9, 4, 2),  # one team of 9 is too big: two smaller ones
        (3, 4, 1),
        (1, 1, 1),
        (49, 12, 9),
    ],
)
def test_how_many_teams(people: int, items: int, expected: int) -> None:
    assert team_count(people, items, 5, 7) == expected


def test_a_dropped_item_passes_its_fans_to_their_next_choice() -> None:
    rankings = [["c", "b"], ["c", "b"], ["a"], ["a"], ["b"]]
    # First choices: a 2, b 1, c 2. "b" goes first; then c (2) and a (2) tie on first choices
    # and on points: the later one, c, goes.
    kept, dropped = drop_least_wanted(["a", "b", "c"], rankings, 1)
    assert (kept, dropped) == (["a"], ["b", "c"])


# -- properties -------------------------------------------------------------------------------
ITEMS = [f"i{n}" for n in range(8)]


@st.composite
def rooms(
    draw: st.DrawFn, max_people: int = 40, max_items: int = len(ITEMS)
) -> tuple[list[str], People, int, int, bool]:
    items = ITEMS[: draw(st.integers(1, max_items))]
    low = draw(st.integers(1, 6))
    high = draw(st.integers(low, 8))
    count = draw(st.integers(1, max_people))
    ranking = st.lists(st.sampled_from(items), max_size=3, unique=True)
    people = [(f"p{n:03d}", draw(ranking)) for n in range(count)]
    return items, people, low, high, draw(st.booleans())


@settings(max_examples=150, deadline=None)
@given(rooms())
def test_everyone_is_placed_exactly_once_in_a_kept_item(
    room: tuple[list[str], People, int, int, bool],
) -> None:
    items, people, low, high, keep_all = room
    result = assign(items, people, min_size=low, max_size=high, keep_all_items=keep_all)
    members = [pid for team in result.teams.values() for pid in team]
    assert sorted(members) == sorted(pid for pid, _ in people)
    assert set(result.teams) | set(result.dropped) == set(items)
    assert not set(result.teams) & set(result.dropped)
    assert sum(result.satisfaction.values()) == len(people)
    expected = len(items) if keep_all else team_count(len(people), len(items), low, high)
    assert len(result.teams) == expected


@settings(max_examples=150, deadline=None)
@given(rooms())
def test_sizes_stay_within_bounds_whenever_the_numbers_allow(
    room: tuple[list[str], People, int, int, bool],
) -> None:
    items, people, low, high, keep_all = room
    result = assign(items, people, min_size=low, max_size=high, keep_all_items=keep_all)
    n, k = len(people), len(result.teams)
    counts = list(sizes(result).values())
    if k * low <= n <= k * high:
        assert all(low <= c <= high for c in counts), counts
    if n <= k * high:
        assert max(counts) <= high
    else:  # too many people: over the max, but no team beyond its even share
        assert max(counts) <= math.ceil(n / k)
    if n >= k * low:
        assert min(counts) >= low


@settings(max_examples=100, deadline=None)
@given(rooms())
def test_the_same_room_always_gives_the_same_teams(
    room: tuple[list[str], People, int, int, bool],
) -> None:
    items, people, low, high, keep_all = room
    first = assign(items, people, min_size=low, max_size=high, keep_all_items=keep_all)
    again = assign(
        list(items),
        [(p, list(r)) for p, r in people],
        min_size=low,
        max_size=high,
        keep_all_items=keep_all,
    )
    assert first == again


@settings(max_examples=100, deadline=None)
@given(rooms())
def test_the_satisfaction_report_matches_the_teams(
    room: tuple[list[str], People, int, int, bool],
) -> None:
    items, people, low, high, keep_all = room
    result = assign(items, people, min_size=low, max_size=high, keep_all_items=keep_all)
    where = placed(result)
    counted: Counter[str] = Counter()
    for pid, ranking in people:
        if not ranking:
            counted[UNRANKED] += 1
        elif where[pid] in ranking:
            counted[str(ranking.index(where[pid]) + 1)] += 1
        else:
            counted[OTHER] += 1
    assert dict(counted) == result.satisfaction


def _objective(
    teams: dict[str, list[str]], people: People, low: int, high: int
) -> tuple[int, tuple[int, ...], int, int]:
    """What the algorithm promises, in order: fewest places beyond min and max, then most
    first choices, most second choices, …, then the most even sizes, then earlier joiners
    on better ranks."""
    bounds = sum(max(0, len(m) - low) + max(0, len(m) - high) for m in teams.values())
    where = {pid: item for item, members in teams.items() for pid in members}
    ranks = Counter(r.index(where[p]) for p, r in people if where[p] in r)
    depth = max((len(r) for _, r in people), default=0) or 1
    even = sum(len(m) * (len(m) + 1) // 2 for m in teams.values())
    seniority = sum(
        (r.index(where[p]) if where[p] in r else depth) * (len(people) - k)
        for k, (p, r) in enumerate(people)
        if r
    )
    return bounds, tuple(-ranks[r] for r in range(depth)), even, seniority


@settings(max_examples=120, deadline=None)
@given(rooms(max_people=6, max_items=4))
def test_no_other_placement_of_the_kept_teams_does_better(
    room: tuple[list[str], People, int, int, bool],
) -> None:
    items, people, low, high, keep_all = room
    result = assign(items, people, min_size=low, max_size=high, keep_all_items=keep_all)
    kept = list(result.teams)
    # Beyond the max, teams grow evenly: none holds more than its share, rounded up.
    cap = max(high, math.ceil(len(people) / len(kept)))
    candidates = (
        {k: [p for (p, _), c in zip(people, combo, strict=True) if c == k] for k in kept}
        for combo in itertools.product(kept, repeat=len(people))
    )
    best = min(
        _objective(teams, people, low, high)
        for teams in candidates
        if all(len(m) <= cap for m in teams.values())
    )
    assert _objective(result.teams, people, low, high) == best


def test_a_hundred_people_and_fifteen_challenges_are_placed_quickly() -> None:
    import random
    import time

    rng = random.Random(12)
    items = [f"c{n}" for n in range(15)]
    people: Sequence[tuple[str, list[str]]] = [
        (f"p{n}", rng.sample(items, 3) if n % 10 else []) for n in range(100)
    ]
    started = time.perf_counter()
    result = assign(items, people, min_size=5, max_size=7)
    assert time.perf_counter() - started < 5
    assert all(5 <= len(m) <= 7 for m in result.teams.values())
    assert len(result.teams) == min(15, math.floor(100 / 5))
