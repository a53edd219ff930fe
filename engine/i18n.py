"""Translations: gettext catalogs (.po) from the engine, the displays and each plugin."""

from __future__ import annotations

import io
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

DOMAIN = "palabre"
DEFAULT_LANGUAGE = "fr"
SOURCE_LANGUAGE = "en"  # msgids are written in English


@lru_cache(maxsize=64)
def _compile(po_path: Path) -> bytes:
    # Compiled in memory at start-up: no .mo files to build or ship.
    with po_path.open("rb") as fp:
        catalog = read_po(fp, domain=DOMAIN)
    out = io.BytesIO()
    write_mo(out, catalog)
    return out.getvalue()


def load_translations(lang: str, locale_dirs: Iterable[Path]) -> NullTranslations:
    merged: NullTranslations | None = None
    if lang != SOURCE_LANGUAGE:
        for directory in locale_dirs:
            po = directory / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
            if not po.is_file():
                continue
            translations = Translations(io.BytesIO(_compile(po)), domain=DOMAIN)
            if merged is None:
                merged = translations
            else:
                assert isinstance(merged, Translations)
                merged.merge(translations)
    return merged or NullTranslations()


def translate(translations: NullTranslations, message: str, params: dict[str, Any]) -> str:
    text = translations.gettext(message)
    try:
        return text.format(**params) if params else text
    except (KeyError, IndexError, ValueError):
        return text


def pick_language(requested: str | None, default: str, available: Iterable[str]) -> str:
    return requested if requested in set(available) else default
