"""Pieces several built-in activities share (rankings, dot ballots, posted items).

Written only against `palabre.engine`'s public API, like the activities themselves.
"""

from pathlib import Path

from palabre.engine import hookimpl


@hookimpl
def register_locale_dirs() -> list[Path]:
    # Messages of the shared pieces (e.g. a refused dot) are translated here, once.
    return [Path(__file__).parent / "locales"]
