"""An observer with a bug: its exception must be logged and ignored (tests/test_hooks.py)."""

from palabre.engine import StoredEvent, hookimpl


@hookimpl
def on_event(event: StoredEvent, workshop: object) -> None:
    raise RuntimeError(f"observer bug at event {event.seq}")
