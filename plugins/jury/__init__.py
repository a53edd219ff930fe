"""Jury: jurors score the pitched projects on weighted criteria; the audience may add dots."""

from palabre.engine import hookimpl

from .activity import Jury


@hookimpl
def register_activities() -> list[type]:
    return [Jury]
