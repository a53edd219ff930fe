"""Dot-voting: each participant spends a few dots on the items they prefer."""

from palabre.engine import hookimpl

from .activity import DotVoting


@hookimpl
def register_activities() -> list[type]:
    return [DotVoting]
