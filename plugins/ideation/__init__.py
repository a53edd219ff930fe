"""Ideation: participants post short ideas from their phones; the screen shows them arrive."""

from palabre.engine import hookimpl

from .activity import Ideation


@hookimpl
def register_activities() -> list[type]:
    return [Ideation]
