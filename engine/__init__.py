"""Palabre's engine: the public API that activities are written against."""

from .activity import (
    ALL,
    N_,
    Action,
    Activity,
    ActivityConfig,
    Actor,
    Event,
    Item,
    Rejection,
    require_tables,
)
from .events import StoredEvent
from .hookspecs import hookimpl
from .text import clean_text, duplicate_key

__all__ = [
    "ALL",
    "N_",
    "Action",
    "Activity",
    "ActivityConfig",
    "Actor",
    "Event",
    "Item",
    "Rejection",
    "StoredEvent",
    "clean_text",
    "duplicate_key",
    "hookimpl",
    "require_tables",
]
