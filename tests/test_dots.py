"""The shared dot ballot (plugins/common/dots.py): budgets overall and per group, the cap per
item, taking a dot back, and the rejections, in the order a phone would meet them."""

from __future__ import annotations

import copy
import os
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from palabre.engine import Rejection
from palabre.engine.plugins import LOAD_PLUGINS_ENV, collect_activities, get_plugin_manager
from palabre.engine.render import Renderer
from palabre.plugins.common.dots import DotRules, Dots

# Two themes, and one item outside any theme.
ITEMS = {"bus": "Mobilité", "velo": "Mobilité", "loyer": "Logement", "parc": ""}
RULES = DotRules(dots=5, max_per_item=2)
PER_THEME = DotRules(dots=5, max_per_item=2, per_group=2)


def place(dots: Dots, rules: DotRules, voter: str, *items: str) -> None:
    """What an activity does: check in handle, record in reduce."""
    for item in items:
        dots.record(voter, dots.check(rules, voter, item, add=True, items=ITEMS), +1)


def refusal(dots: Dots, rules: DotRules, voter: str, item: object, add: bool = True,
            is_open: bool = True) -> Rejection:
    before = copy.deepcopy(dots)
    with pytest.raises(Rejection) as caught:
        dots.check(rules, voter, item, add=add, items=ITEMS, is_open=is_open)
    assert dots == before, "a refused check changed the ballot"
    return caught.value


def test_a_participant_places_dots_and_the_tally_follows() -> None:
    dots = Dots()
    place(dots, RULES, "zoe", "bus", "bus", "loyer")
    place(dots, RULES, "ines", "bus")
    assert dots.held("zoe", "bus") == 2 and dots.spent("zoe") == 3
    assert dots.left(RULES, "zoe") == 2
    assert dots.tally == {"bus": 3, "loyer": 1}
    assert dots.score("bus") == 3 and dots.score("parc") == 0
    assert dots.supporters("bus") == 2 and dots.supporters("loyer") == 1
    assert dots.voters() == 2 and dots.total() == 4


def test_the_check_returns_the_item_and_changes_nothing() -> None:
    dots = Dots()
    assert dots.check(RULES, "zoe", "bus", add=True, items=ITEMS) == "bus"
    assert dots == Dots()


def test_a_participant_cannot_spend_a_sixth_dot() -> None:
    dots = Dots()
    place(dots, RULES, "zoe", "bus", "bus", "velo", "velo", "loyer")
    rejection = refusal(dots, RULES, "zoe", "parc")
    assert rejection.code == "no_dots_left"
    assert rejection.message == "You have no dots left. Remove one to move it."


def test_a_third_dot_on_one_item_is_refused_with_the_cap() -> None:
    dots = Dots()
    place(dots, RULES, "zoe", "bus", "bus")
    rejection = refusal(dots, RULES, "zoe", "bus")
    assert (rejection.code, rejection.params) == ("item_full", {"limit": 2})
    # Someone else's dots on the item do not count against my cap.
    place(dots, RULES, "ines", "bus", "bus")


def test_taking_back_a_dot_you_do_not_have_is_refused() -> None:
    dots = Dots()
    place(dots, RULES, "ines", "bus")
    assert refusal(dots, RULES, "zoe", "bus", add=False).code == "no_dot_here"


def test_a_dot_taken_back_can_be_placed_elsewhere() -> None:
    dots = Dots()
    place(dots, RULES, "zoe", "bus", "bus", "velo", "velo", "loyer")
    dots.record("zoe", dots.check(RULES, "zoe", "bus", add=False, items=ITEMS), -1)
    assert dots.left(RULES, "zoe") == 1 and dots.score("bus") == 1
    place(dots, RULES, "zoe", "parc")
    assert dots.spent("zoe") == 5


@pytest.mark.parametrize("item", ["nope", None, 3, ["bus"], {"bus": 1}])
def test_an_item_outside_the_vote_is_refused(item: object) -> None:
    assert refusal(Dots(), RULES, "zoe", item).code == "unknown_item"


@pytest.mark.parametrize("add", [True, False])
def test_a_closed_vote_refuses_adding_and_taking_back(add: bool) -> None:
    dots = Dots()
    place(dots, RULES, "zoe", "bus")
    rejection = refusal(dots, RULES, "zoe", "bus", add=add, is_open=False)
    assert (rejection.code, rejection.message) == ("closed", "The vote is closed.")


def test_an_unknown_item_is_reported_before_a_closed_vote() -> None:
    assert refusal(Dots(), RULES, "zoe", "nope", is_open=False).code == "unknown_item"


# -- per-group budgets ----------------------------------------------------------------------------
def test_a_per_theme_budget_stops_a_third_dot_in_one_theme_only() -> None:
    dots = Dots()
    place(dots, PER_THEME, "zoe", "bus", "velo")
    rejection = refusal(dots, PER_THEME, "zoe", "bus")
    assert rejection.code == "no_dots_left_in_group"
    assert rejection.params == {"group": "Mobilité", "limit": 2}
    assert "{group}" in rejection.message
    place(dots, PER_THEME, "zoe", "loyer")  # another theme still has room
    assert dots.spent("zoe", "Mobilité", ITEMS) == 2
    assert dots.spent("zoe", "Logement", ITEMS) == 1
    assert dots.left(PER_THEME, "zoe", "Mobilité", ITEMS) == 0
    assert dots.left(PER_THEME, "zoe", "Logement", ITEMS) == 1
    assert dots.left(PER_THEME, "zoe") == 2


def test_items_without_a_group_share_a_budget_and_a_message_without_a_name() -> None:
    items = {"parc": "", "fete": ""}
    rules = DotRules(dots=5, max_per_item=2, per_group=2)
    dots = Dots()
    for item in ("parc", "fete"):
        dots.record("zoe", dots.check(rules, "zoe", item, add=True, items=items), +1)
    with pytest.raises(Rejection) as caught:
        dots.check(rules, "zoe", "parc", add=True, items=items)
    assert caught.value.code == "no_dots_left_in_group"
    assert "{group}" not in caught.value.message


def test_the_overall_budget_is_checked_before_the_group_budget() -> None:
    rules = DotRules(dots=3, max_per_item=2, per_group=2)
    dots = Dots()
    place(dots, rules, "zoe", "bus", "velo", "loyer")
    assert refusal(dots, rules, "zoe", "bus").code == "no_dots_left"
    assert dots.left(rules, "zoe", "Logement", ITEMS) == 0  # the smaller of the two


def test_the_group_budget_is_checked_before_the_cap() -> None:
    rules = DotRules(dots=5, max_per_item=2, per_group=2)
    dots = Dots()
    place(dots, rules, "zoe", "bus", "bus")
    assert refusal(dots, rules, "zoe", "bus").code == "no_dots_left_in_group"


def test_no_per_group_budget_means_groups_are_ignored() -> None:
    dots = Dots()
    place(dots, RULES, "zoe", "bus", "bus", "velo", "velo")
    assert dots.left(RULES, "zoe", "Mobilité", ITEMS) == 1


# -- ranking --------------------------------------------------------------------------------------
def test_the_ranking_puts_most_dots_first_and_explains_a_broken_tie() -> None:
    dots = Dots()
    place(dots, RULES, "a", "bus", "bus")
    place(dots, RULES, "b", "loyer")
    place(dots, RULES, "c", "loyer")
    place(dots, RULES, "d", "velo")
    rows = dots.ranking(
        list(ITEMS), key=str, tie_breakers=[("More people", lambda i: dots.supporters(i))]
    )
    assert [(r.rank, r.item, r.score, r.tie_break) for r in rows] == [
        (1, "loyer", 2.0, ""),
        (2, "bus", 2.0, "More people"),
        (3, "velo", 1.0, ""),
        (4, "parc", 0.0, ""),
    ]


def test_equal_dots_share_a_rank_in_input_order() -> None:
    dots = Dots()
    place(dots, RULES, "a", "velo", "bus")
    rows = dots.ranking(["bus", "velo", "parc"], key=str)
    assert [(r.rank, r.item, r.tied) for r in rows] == [
        (1, "bus", True), (1, "velo", True), (3, "parc", False)]


# -- the budget holds whatever the sequence -------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["zoe", "ines"]), st.sampled_from(list(ITEMS)),
                          st.booleans()), max_size=60))
def test_no_sequence_of_checked_actions_breaks_a_budget(
    actions: list[tuple[str, str, bool]],
) -> None:
    rules = DotRules(dots=4, max_per_item=2, per_group=3)
    dots = Dots()
    for voter, item, add in actions:
        try:
            dots.check(rules, voter, item, add=add, items=ITEMS)
        except Rejection:
            continue
        dots.record(voter, item, +1 if add else -1)
        for who in ("zoe", "ines"):
            assert dots.spent(who) <= rules.dots
            assert all(0 <= dots.held(who, i) <= rules.max_per_item for i in ITEMS)
            for group in set(ITEMS.values()):
                assert dots.spent(who, group, ITEMS) <= rules.per_group
    assert dots.total() == sum(dots.spent(w) for w in ("zoe", "ines"))
    # the counts kept as dots move agree with counting the ballots
    assert dots.voters() == sum(1 for w in ("zoe", "ines") if dots.spent(w) > 0)
    for item in ITEMS:
        assert dots.supporters(item) == sum(1 for w in ("zoe", "ines") if dots.held(w, item))


# -- messages are translated (the common catalog, loaded through register_locale_dirs) -----------
@pytest.fixture(scope="module")
def renderer() -> Renderer:
    with mock.patch.dict(os.environ):
        os.environ.pop(LOAD_PLUGINS_ENV, None)
        pm = get_plugin_manager(load_entry_points=False)
    return Renderer(collect_activities(pm), pm)


def test_a_group_budget_refusal_reads_well_in_french_and_english(renderer: Renderer) -> None:
    dots = Dots()
    place(dots, PER_THEME, "zoe", "bus", "velo")
    rejection = refusal(dots, PER_THEME, "zoe", "bus")
    fr = renderer.gettext("fr", rejection.message, rejection.params)
    en = renderer.gettext("en", rejection.message, rejection.params)
    assert fr == (
        "Vous avez posé toutes vos gommettes pour «\u00a0Mobilité\u00a0» (2)."
        " Retirez-en une pour la placer ailleurs."
    )
    assert en == "You have placed all your dots for “Mobilité” (2). Remove one to move it."


@pytest.mark.parametrize(
    ("code", "french"),
    [
        ("no_dots_left", "Vous avez posé toutes vos gommettes."),
        ("no_dot_here", "Vous n’avez pas de gommette sur cette proposition."),
        ("unknown_item", "Cette proposition ne fait pas partie du vote."),
    ],
)
def test_every_refusal_has_french(renderer: Renderer, code: str, french: str) -> None:
    dots = Dots()
    place(dots, RULES, "zoe", "bus", "bus", "velo", "velo", "loyer")
    item, add = {"no_dots_left": ("parc", True), "no_dot_here": ("parc", False),
                 "unknown_item": ("nope", True)}[code]
    rejection = refusal(dots, RULES, "zoe", item, add=add)
    assert rejection.code == code
    assert renderer.gettext("fr", rejection.message, rejection.params).startswith(french)
