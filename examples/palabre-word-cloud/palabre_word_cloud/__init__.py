"""A word cloud: residents give a few words, the screen shows the most given ones largest."""

# --8<-- [start:register]
from pathlib import Path

from palabre.engine import hookimpl

from .activity import WordCloud


@hookimpl
def register_activities() -> list[type[WordCloud]]:
    return [WordCloud]


@hookimpl
def register_kits() -> list[Path]:
    # `palabre kits` lists it, and `palabre serve ice-breaker` finds it by name.
    return [Path(__file__).parent / "kits" / "ice-breaker.toml"]


# --8<-- [end:register]
