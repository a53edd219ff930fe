"""Checking text typed by people: Unicode that stores safely, limits counted as people count."""

from __future__ import annotations

import unicodedata
from typing import Any

import grapheme

from .activity import N_, Rejection

# Format characters (bidi controls, zero-width joiners…) and spaces: text made only of
# these looks empty on a screen, so it counts as empty.
_INVISIBLE_CATEGORIES = {"Cf", "Zs", "Zl", "Zp", "Cc", "Mn", "Me"}
# The longest emoji sequences (families, flags with tags) take about 35 bytes.
MAX_CLUSTER_BYTES = 64
_BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")


def clean_text(
    value: Any,
    *,
    field: str,
    max_graphemes: int,
    max_bytes: int | None = None,
    required: bool = True,
    multiline: bool = False,
) -> str:
    """NFC-normalised, trimmed text, or a Rejection saying what is wrong in plain words."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise Rejection("invalid_text", N_("This field must be text."), field=field)
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
        raise Rejection("invalid_text", N_("This text contains invalid characters."), field=field)
    # Controls and bidi marks go first: one left between a letter and its accent would keep
    # the pair from composing, and one at an end would hide spaces from strip().
    text = _drop_bidi_controls(_strip_controls(value, multiline))
    text = unicodedata.normalize("NFC", text).strip()
    if _looks_empty(text):
        if required:
            raise Rejection("empty_text", N_("Please write something."), field=field)
        return ""
    clusters = list(grapheme.graphemes(text))
    if len(clusters) > max_graphemes:
        raise Rejection(
            "too_long",
            N_("Too long: at most {limit} characters."),
            field=field,
            limit=max_graphemes,
        )
    if any(len(cluster.encode("utf-8")) > MAX_CLUSTER_BYTES for cluster in clusters):
        # A single "character" stacked with hundreds of accents (zalgo) would smear the screen.
        raise Rejection("invalid_text", N_("This text contains invalid characters."), field=field)
    byte_limit = max_bytes if max_bytes is not None else max_graphemes * 32
    if len(text.encode("utf-8")) > byte_limit:
        raise Rejection(
            "too_long",
            N_("Too long: at most {limit} characters."),
            field=field,
            limit=max_graphemes,
        )
    return text


def _strip_controls(text: str, multiline: bool) -> str:
    keep = {"\n"} if multiline else set()
    out = []
    for ch in text:
        if ch in keep:
            out.append(ch)
        elif unicodedata.category(ch) == "Cc":
            out.append(" " if ch in "\t\r\n" else "")
        else:
            out.append(ch)
    return "".join(out)


def _drop_bidi_controls(text: str) -> str:
    # Display isolates each text with dir=auto/<bdi>; stray overrides would only reorder it.
    return "".join(ch for ch in text if ch not in _BIDI_CONTROLS)


def _looks_empty(text: str) -> bool:
    return all(unicodedata.category(ch) in _INVISIBLE_CATEGORIES for ch in text)


def duplicate_key(text: str) -> str:
    """A key under which two texts that read the same collide."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())
