"""Diagnosis: participants (or table captains) post the problems they see, under the kit's
themes; the screen shows one live column per theme."""

from palabre.engine import hookimpl

from .activity import Diagnosis


@hookimpl
def register_activities() -> list[type]:
    return [Diagnosis]
