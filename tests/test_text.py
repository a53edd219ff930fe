"""Text typed on phones: stored safely, limits counted as people count, empty-looking refused."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from palabre.engine import Rejection, clean_text, duplicate_key


def test_limits_count_grapheme_clusters_not_code_points() -> None:
    family = "👨‍👩‍👧‍👦"  # one cluster, seven code points, 25 bytes
    assert clean_text(family * 10, field="t", max_graphemes=10) == family * 10
    with pytest.raises(Rejection) as excinfo:
        clean_text(family * 11, field="t", max_graphemes=10)
    assert excinfo.value.code == "too_long" and excinfo.value.params["limit"] == 10


def test_one_character_stacked_with_hundreds_of_accents_is_refused() -> None:
    zalgo = "a" + "\u0301" * 500  # one cluster, 1,001 bytes
    with pytest.raises(Rejection) as excinfo:
        clean_text(zalgo, field="t", max_graphemes=80)
    assert excinfo.value.code == "invalid_text"


@pytest.mark.parametrize("text", ["", "   ", "\u200b\u200b", "\u202e", "\u2066\u2069", "\n\t"])
def test_text_that_looks_empty_is_refused(text: str) -> None:
    with pytest.raises(Rejection) as excinfo:
        clean_text(text, field="title", max_graphemes=80)
    assert excinfo.value.code == "empty_text"
    assert excinfo.value.params["field"] == "title"


def test_a_lone_surrogate_is_refused_before_it_reaches_sqlite() -> None:
    with pytest.raises(Rejection) as excinfo:
        clean_text("abc\ud800", field="t", max_graphemes=80)
    assert excinfo.value.code == "invalid_text"


def test_bidi_overrides_are_dropped_and_text_is_nfc() -> None:
    assert clean_text("e\u0301cole \u202eevil", field="t", max_graphemes=80) == "école evil"


def test_same_idea_typed_differently_collides() -> None:
    assert duplicate_key("  Jardin   PARTAGÉ ") == duplicate_key("jardin partagé")


@given(st.text())
def test_any_text_is_either_refused_cleanly_or_stored_as_valid_utf8(text: str) -> None:
    try:
        cleaned = clean_text(text, field="t", max_graphemes=80, required=False)
    except Rejection as rejection:
        assert rejection.code in {"invalid_text", "too_long", "empty_text"}
    else:
        cleaned.encode("utf-8")
        assert cleaned == cleaned.strip()
