"""Results: the restitution of the day, awards revealed one by one, each with its trail."""

from palabre.engine import hookimpl

from .activity import Results


@hookimpl
def register_activities() -> list[type]:
    return [Results]
