"""Teams: people form teams around the items of an earlier step (challenges, axes,
projects) — first come first served, by ranked choices, or table by table."""

from palabre.engine import hookimpl

from .activity import Teams


@hookimpl
def register_activities() -> list[type]:
    return [Teams]
