"""Pitches: each team presents in turn, against a large countdown seen from the back of
the room."""

from palabre.engine import hookimpl

from .activity import Pitches


@hookimpl
def register_activities() -> list[type]:
    return [Pitches]
