"""Shared ranking: highest first, ties share a rank, and the reason a tie was broken is said."""

from palabre.plugins.common.ranking import rank


def test_highest_score_first_and_ties_share_a_rank_in_input_order() -> None:
    rows = rank(["a", "b", "c", "d"], score={"a": 2, "b": 5, "c": 2, "d": 1}.__getitem__)
    assert [(r.rank, r.item, r.tied) for r in rows] == [
        (1, "b", False), (2, "a", True), (2, "c", True), (4, "d", False)]


def test_a_tie_broken_by_a_second_key_names_that_key() -> None:
    scores = {"a": 10.0, "b": 10.0, "c": 7.0}
    jurors = {"a": 3.0, "b": 5.0, "c": 1.0}
    rows = rank(["a", "b", "c"], scores.__getitem__,
                [("More jurors scored it", jurors.__getitem__)])
    assert [(r.rank, r.item, r.tie_break) for r in rows] == [
        (1, "b", ""), (2, "a", "More jurors scored it"), (3, "c", "")]
    assert not any(r.tied for r in rows)


def test_an_empty_list_ranks_to_nothing() -> None:
    assert rank([], score=float) == []
