"""Axes: the facilitator groups the previous step's items (diagnosis problems, ideas) into
named axes; participants may then spend dots to retain a few, overall or per theme."""

from palabre.engine import hookimpl

from .activity import Axes


@hookimpl
def register_activities() -> list[type]:
    return [Axes]
